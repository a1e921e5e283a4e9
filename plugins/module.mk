# plugins/
SRCS += $(wildcard plugins/*.c)
LIBS += -lcares -lpsl -levent
LIBS += -lcrypto -lpsl
# plugins/dmarc_report.c: libxml2 (the report XML) and zlib (.gz, .zip)
XCFLAGS += $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
LIBS += -lxml2 -lz
