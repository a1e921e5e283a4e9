# bayes/
SRCS += $(wildcard bayes/*.c)
LIBS += -ldb -lhiredis -lm
