# rules/
SRCS += $(wildcard rules/*.c)
LIBS += -lpcre2-8 -lhs
