# filterd/
SRCS += $(wildcard filterd/*.c)
