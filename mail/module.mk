# mail/
SRCS += $(wildcard mail/*.c)
LIBS += -lidn2
