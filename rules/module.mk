# rules/
SRCS += $(wildcard rules/*.c)
