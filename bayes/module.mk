# bayes/
SRCS += $(wildcard bayes/*.c)
