# plugins/
SRCS += $(wildcard plugins/*.c)
LIBS += -lcares -lpsl -levent
LIBS += -lcrypto -lpsl
