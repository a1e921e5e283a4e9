# util/ - arena, byte strings, buffers, logging, small helpers (libc only)
SRCS += $(wildcard util/*.c)
