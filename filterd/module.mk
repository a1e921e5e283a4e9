# filterd/
SRCS += $(wildcard filterd/*.c)
LIBS += -levent
LIBS += -lmilter -levent_pthreads -lz -lpthread
