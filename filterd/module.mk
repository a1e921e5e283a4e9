# filterd/
SRCS += $(wildcard filterd/*.c)
LIBS += -levent
