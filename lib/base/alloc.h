/* Allocation wrappers that abort on out-of-memory, and scope-bound cleanup helpers. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

/* Out-of-memory is decided once, here: the process aborts with a message. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grows an array to hold at least `need` elements, doubling; returns the new array. */
void *xreallocarray_grow(void *ptr, size_t *capacity, size_t need, size_t element_size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static inline void freep(void *p)
{
    free(*(void **)p);
}

static inline void closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

#define _cleanup_(f)    __attribute__((cleanup(f)))
#define _cleanup_free_  _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hands ownership on: returns the pointer and clears the variable. */
#define steal_ptr(p)                                                                               \
    ({                                                                                             \
        __typeof__(p) _stolen = (p);                                                               \
        (p) = NULL;                                                                                \
        _stolen;                                                                                   \
    })

#define steal_fd(fd)                                                                               \
    ({                                                                                             \
        int _stolen_fd = (fd);                                                                     \
        (fd) = -1;                                                                                 \
        _stolen_fd;                                                                                \
    })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
