/* SPDX-License-Identifier: MIT */
/*
 * DbgPrintEx: formatted with the Windows kernel's rules (l is 32 bits, I64 and I are 64,
 * %ws/%S wide strings, %wZ a UNICODE_STRING) and kept for the tests to read. A conversion
 * the shim does not know stops the run: a silently misprinted line would prove nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "shim.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

typedef struct {
    char *Out;
    size_t Size, Length;
} SINK;

static void put(SINK *s, char c)
{
    if (s->Length + 1 < s->Size)
        s->Out[s->Length] = c;
    s->Length++;
}

static void put_padded(SINK *s, const char *text, size_t length, int width, int left, char pad)
{
    size_t i;

    if (!left)
        for (i = length; (long)i < width; i++)
            put(s, pad);
    for (i = 0; i < length; i++)
        put(s, text[i]);
    if (left)
        for (i = length; (long)i < width; i++)
            put(s, ' ');
}

/* One integer conversion: digits, precision, sign and prefix, then the width. */
static void put_integer(SINK *s, ULONG64 magnitude, int negative, unsigned base, int upper,
                        int width, int precision, int left, int zero, int plus, int space,
                        int alternate)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char body[96], *p = body + sizeof(body);
    size_t n = 0, length;
    char prefix[3];
    size_t prefix_length = 0;

    while (magnitude) {
        *--p = digits[magnitude % base];
        magnitude /= base;
        n++;
    }
    if (precision < 0)
        precision = 1;
    while ((int)n < precision && n < sizeof(body) - 1) {
        *--p = '0';
        n++;
    }
    if (negative)
        prefix[prefix_length++] = '-';
    else if (plus)
        prefix[prefix_length++] = '+';
    else if (space)
        prefix[prefix_length++] = ' ';
    if (alternate && base == 16 && n && *p != '0') {
        prefix[prefix_length++] = '0';
        prefix[prefix_length++] = upper ? 'X' : 'x';
    }
    length = prefix_length + n;
    if (zero && !left && precision <= 1) {
        put_padded(s, prefix, prefix_length, 0, 0, ' ');
        put_padded(s, p, n, width - (int)prefix_length, 0, '0');
        return;
    }
    if (!left)
        for (; (int)length < width; length++)
            put(s, ' ');
    put_padded(s, prefix, prefix_length, 0, 0, ' ');
    put_padded(s, p, n, 0, 0, ' ');
    if (left)
        for (; (int)length < width; length++)
            put(s, ' ');
}

/* UTF-16 to the output, one byte per character (non-ASCII as '?'), at most max characters. */
static void put_wide(SINK *s, const WCHAR *text, size_t count, int width, int left)
{
    char narrow[512];
    size_t i;

    if (count > sizeof(narrow))
        count = sizeof(narrow);
    for (i = 0; i < count; i++)
        narrow[i] = text[i] < 0x80 ? (char)text[i] : '?';
    put_padded(s, narrow, count, width, left, ' ');
}

static size_t wide_length(const WCHAR *text, int precision)
{
    size_t n = 0;

    while ((precision < 0 || (int)n < precision) && text[n])
        n++;
    return n;
}

static int format(char *out, size_t size, const char *f, va_list ap)
{
    SINK s = { out, size, 0 };

    for (; *f; f++) {
        int left = 0, zero = 0, plus = 0, space = 0, alternate = 0, width = 0, precision = -1;
        enum { INT, SHORT_, CHAR_, LONG32, LONG64_, PTRSIZE, WIDE } size_kind = INT;
        ULONG64 u;
        LONG64 v;

        if (*f != '%') {
            put(&s, *f);
            continue;
        }
        for (f++;; f++) {
            if (*f == '-')
                left = 1;
            else if (*f == '0')
                zero = 1;
            else if (*f == '+')
                plus = 1;
            else if (*f == ' ')
                space = 1;
            else if (*f == '#')
                alternate = 1;
            else
                break;
        }
        if (*f == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = 1;
                width = -width;
            }
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                width = width * 10 + (*f++ - '0');
        }
        if (*f == '.') {
            f++;
            precision = 0;
            if (*f == '*') {
                precision = va_arg(ap, int);
                f++;
            } else {
                while (*f >= '0' && *f <= '9')
                    precision = precision * 10 + (*f++ - '0');
            }
        }
        if (f[0] == 'I' && f[1] == '6' && f[2] == '4') {
            size_kind = LONG64_;
            f += 3;
        } else if (f[0] == 'I' && f[1] == '3' && f[2] == '2') {
            size_kind = LONG32;
            f += 3;
        } else if (f[0] == 'I') {
            size_kind = PTRSIZE;
            f++;
        } else if (f[0] == 'l' && f[1] == 'l') {
            size_kind = LONG64_;
            f += 2;
        } else if (f[0] == 'l') {
            size_kind = LONG32; /* LLP64: long is 32 bits */
            f++;
        } else if (f[0] == 'h' && f[1] == 'h') {
            size_kind = CHAR_;
            f += 2;
        } else if (f[0] == 'h') {
            size_kind = SHORT_;
            f++;
        } else if (f[0] == 'w') {
            size_kind = WIDE;
            f++;
        } else if (f[0] == 'z') {
            size_kind = PTRSIZE;
            f++;
        }

        switch (*f) {
        case '%':
            put(&s, '%');
            break;
        case 'c':
            put_padded(&s, (char[]){ (char)va_arg(ap, int) }, 1, width, left, ' ');
            break;
        case 'd':
        case 'i':
            /* Read a full slot and keep the bits of the Windows type, as its callee would. */
            if (size_kind == LONG64_ || size_kind == PTRSIZE)
                v = va_arg(ap, LONG64);
            else if (size_kind == LONG32)
                v = (LONG)va_arg(ap, long);
            else if (size_kind == SHORT_)
                v = (SHORT)va_arg(ap, int);
            else if (size_kind == CHAR_)
                v = (CHAR)va_arg(ap, int);
            else
                v = va_arg(ap, int);
            put_integer(&s, v < 0 ? (ULONG64)0 - (ULONG64)v : (ULONG64)v, v < 0, 10, 0, width,
                        precision, left, zero, plus, space, 0);
            break;
        case 'u':
        case 'x':
        case 'X':
        case 'o':
            if (size_kind == LONG64_ || size_kind == PTRSIZE)
                u = va_arg(ap, ULONG64);
            else if (size_kind == LONG32)
                u = (ULONG)va_arg(ap, unsigned long);
            else if (size_kind == SHORT_)
                u = (USHORT)va_arg(ap, unsigned);
            else if (size_kind == CHAR_)
                u = (UCHAR)va_arg(ap, unsigned);
            else
                u = va_arg(ap, unsigned);
            put_integer(&s, u, 0, *f == 'o' ? 8 : *f == 'u' ? 10 : 16, *f == 'X', width,
                        precision, left, zero, 0, 0, alternate);
            break;
        case 'p':
            /* Windows prints pointers as 16 upper-case hex digits. */
            put_integer(&s, (ULONG64)(ULONG_PTR)va_arg(ap, void *), 0, 16, 1, width, 16, left, 0,
                        0, 0, 0);
            break;
        case 's':
            if (size_kind == LONG32 || size_kind == WIDE) {
                const WCHAR *w = va_arg(ap, const WCHAR *);

                if (!w)
                    w = L"(null)";
                put_wide(&s, w, wide_length(w, precision), width, left);
            } else {
                const char *n = va_arg(ap, const char *);
                size_t length = 0;

                if (!n)
                    n = "(null)";
                while ((precision < 0 || (int)length < precision) && n[length])
                    length++;
                put_padded(&s, n, length, width, left, ' ');
            }
            break;
        case 'S': {
            const WCHAR *w = va_arg(ap, const WCHAR *);

            if (!w)
                w = L"(null)";
            put_wide(&s, w, wide_length(w, precision), width, left);
            break;
        }
        case 'Z':
            if (size_kind == WIDE) {
                PCUNICODE_STRING us = va_arg(ap, PCUNICODE_STRING);

                if (!us || !us->Buffer)
                    put_padded(&s, "(null)", 6, width, left, ' ');
                else
                    put_wide(&s, us->Buffer, us->Length / sizeof(WCHAR), width, left);
                break;
            }
            shim_die("DbgPrintEx: %%Z (ANSI_STRING) is not supported by the shim");
        case 'n':
            shim_die("DbgPrintEx: %%n in a format string");
        default:
            shim_die("DbgPrintEx: conversion '%c' in \"%s\" is not supported by the shim",
                     *f ? *f : '?', f);
        }
    }
    if (s.Size)
        s.Out[s.Length < s.Size ? s.Length : s.Size - 1] = 0;
    return (int)s.Length;
}

int shim_format(char *Out, size_t Size, const char *Format, ...)
{
    va_list ap;
    int n;

    va_start(ap, Format);
    n = format(Out, Size, Format, ap);
    va_end(ap);
    return n;
}

#define KEPT 256
static SHIM_LOG_LINE lines[KEPT];
static ULONG line_count; /* since the last clear; lines[i % KEPT] */
static BOOLEAN echo;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...)
{
    SHIM_LOG_LINE line;
    va_list ap;

    /* Callable up to DIRQL; the shim only has up to DISPATCH_LEVEL. */
    if (!Format)
        shim_die("DbgPrintEx: NULL format");
    line.ComponentId = ComponentId;
    line.Level = Level;
    va_start(ap, Format);
    format(line.Text, sizeof(line.Text), Format, ap); /* truncated at 511, as DbgPrint does */
    va_end(ap);

    pthread_mutex_lock(&log_mutex);
    lines[line_count % KEPT] = line;
    line_count++;
    if (echo)
        fprintf(stderr, "DbgPrintEx(%u, %u): %s", ComponentId, Level, line.Text);
    pthread_mutex_unlock(&log_mutex);
    return 0; /* STATUS_SUCCESS */
}

ULONG shim_log_count(VOID)
{
    return line_count;
}

const SHIM_LOG_LINE *shim_log_line(ULONG Index)
{
    if (Index >= line_count || line_count - Index > KEPT)
        return NULL;
    return &lines[Index % KEPT];
}

ULONG shim_log_find(const char *Text)
{
    ULONG i, found = 0, first = line_count > KEPT ? line_count - KEPT : 0;

    pthread_mutex_lock(&log_mutex);
    for (i = first; i < line_count; i++)
        if (strstr(lines[i % KEPT].Text, Text))
            found++;
    pthread_mutex_unlock(&log_mutex);
    return found;
}

VOID shim_log_clear(VOID)
{
    pthread_mutex_lock(&log_mutex);
    line_count = 0;
    pthread_mutex_unlock(&log_mutex);
}

VOID shim_log_echo(BOOLEAN On)
{
    echo = On;
}
