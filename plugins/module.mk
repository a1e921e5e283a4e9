# plugins/
SRCS += $(wildcard plugins/*.c)
