/* SPDX-License-Identifier: MIT */
/*
 * pecheck: check that a PE32+ image has the properties we ship with (format,
 * machine, subsystem, entry point, checksum, W^X, relocations, unwind data, NX/ASLR,
 * section alignment, imports, certificate table). Host tool, C99 + libc only.
 * The input is untrusted: the whole file is read into memory and every offset
 * taken from it is bounds-checked before use.
 *
 *   pecheck --kind driver|exe [--machine x64|arm64] [--signed] [--cet] FILE...
 *
 * A driver's subsystem and OS versions must be 10.0 (what the WDK writes); --cet requires the
 * CET-compatible mark (a debug directory entry of type 20 with its bit 0x1 set).
 *
 * Prints "PASS: <file>: <check>" or "FAIL: <file>: <check>: <detail>" per check.
 * Exit 0 if every check passed, 1 if any failed, 2 on a usage error or an
 * unreadable or malformed file.
 *
 * TEST SUPPORT ONLY (for test/pe/run.sh, not a shipping feature):
 *   pecheck --mutate checksum|wx|nx|nointeg|nounwind|nosig|oldos|nocet|uncover IN OUT
 * writes a copy of IN with exactly one property broken (uncover: the ARM64 unwind
 * entry of the function holding the entry point is removed); the checksum is
 * recomputed when IN's was valid, so only the targeted check should fail.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Far above any driver or tool we build; keeps allocation sizes sane. */
#define MAX_FILE_SIZE (1024UL * 1024UL * 1024UL)

enum { RC_OK = 0, RC_FAIL = 1, RC_ERROR = 2 };

#define IMAGE_FILE_RELOCS_STRIPPED 0x0001u
#define OPT_MAGIC_PE32PLUS 0x20Bu
#define OPT_FIXED_SIZE 112u /* PE32+ optional header up to DataDirectory[] */
#define SECTION_HEADER_SIZE 40u
#define IMPORT_DESC_SIZE 20u
#define SCN_MEM_EXECUTE 0x20000000UL
#define SCN_MEM_WRITE 0x80000000UL
#define DLLCHAR_DYNAMIC_BASE 0x0040u
#define DLLCHAR_FORCE_INTEGRITY 0x0080u
#define DLLCHAR_NX_COMPAT 0x0100u
#define DIR_IMPORT 1u
#define DIR_EXCEPTION 3u
#define DIR_SECURITY 4u
#define DIR_DEBUG 6u
#define DEBUG_ENTRY_SIZE 28u
#define DEBUG_TYPE_EX_DLLCHARACTERISTICS 20u
#define DLLCHAR_EX_CET_COMPAT 0x1u
#define MACHINE_AMD64 0x8664u
#define MACHINE_ARM64 0xAA64u
#define ARM64_BL_MASK 0xFC000000UL /* BL imm26 */
#define ARM64_BL 0x94000000UL
#define ARM64_BLR_MASK 0xFFFFFC1FUL /* BLR Xn */
#define ARM64_BLR 0xD63F0000UL
#define DIR_BASERELOC 5u
#define SUBSYSTEM_NATIVE 1u
#define SUBSYSTEM_CONSOLE 3u
#define WIN_CERT_REVISION_2_0 0x0200u
#define WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002u
#define MAX_IMPORTS 4096u /* bounds the walk on a hostile descriptor array */
#define MAX_DLL_NAME 256u

/* Field offsets inside the COFF file header and the PE32+ optional header. */
#define COFF_MACHINE 0
#define COFF_NSECTIONS 2
#define COFF_SIZEOPT 16
#define COFF_CHARACTERISTICS 18
#define OH_ENTRY 16
#define OH_SECTION_ALIGN 32
#define OH_OS_VERSION 40        /* MajorOperatingSystemVersion, then Minor */
#define OH_SUBSYSTEM_VERSION 48 /* MajorSubsystemVersion, then Minor */
#define OH_SIZE_OF_HEADERS 60
#define OH_CHECKSUM 64
#define OH_SUBSYSTEM 68
#define OH_DLLCHAR 70
#define OH_NUM_RVA 108
#define SH_VSIZE 8
#define SH_VADDR 12
#define SH_RAWSIZE 16
#define SH_RAWPTR 20
#define SH_CHARACTERISTICS 36

struct machine {
    const char *name;
    uint16_t value;
    unsigned pdata_entry;
};

/* --machine values and the size of their .pdata entries (RUNTIME_FUNCTION). */
static const struct machine machines[] = {
    { "x64", MACHINE_AMD64, 12 },
    { "arm64", MACHINE_ARM64, 8 },
};

enum kind { KIND_NONE, KIND_DRIVER, KIND_EXE };

struct opts {
    enum kind kind;
    const struct machine *machine; /* NULL: any machine in the table */
    int sign;
    int cet;
};

/* A parsed image: offsets here have been bounds-checked by parse_image(). */
struct image {
    const char *path;
    unsigned char *buf;
    size_t len;
    size_t coff;  /* COFF file header */
    size_t opt;   /* optional header */
    size_t sect;  /* section table */
    unsigned nsect;
    uint32_t ndirs;
    int failed;   /* a check printed FAIL */
};

struct dir {
    uint32_t rva;
    uint32_t size;
};

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* [off, off+n) inside a buffer of len bytes, written so nothing can overflow. */
static int in_bounds(size_t len, uint64_t off, uint64_t n)
{
    return off <= (uint64_t)len && n <= (uint64_t)len - off;
}

/* Callers check bounds first; the checks here are a backstop, never the plan. */
static uint16_t rd16(const struct image *im, uint64_t off)
{
    if (!in_bounds(im->len, off, 2))
        return 0;
    return (uint16_t)(im->buf[off] | (im->buf[off + 1] << 8));
}

static uint32_t rd32(const struct image *im, uint64_t off)
{
    if (!in_bounds(im->len, off, 4))
        return 0;
    return (uint32_t)im->buf[off] | ((uint32_t)im->buf[off + 1] << 8) |
           ((uint32_t)im->buf[off + 2] << 16) | ((uint32_t)im->buf[off + 3] << 24);
}

static int wr16(struct image *im, uint64_t off, uint16_t v)
{
    if (!in_bounds(im->len, off, 2))
        return -1;
    im->buf[off] = (unsigned char)(v & 0xff);
    im->buf[off + 1] = (unsigned char)(v >> 8);
    return 0;
}

static int wr32(struct image *im, uint64_t off, uint32_t v)
{
    if (!in_bounds(im->len, off, 4))
        return -1;
    im->buf[off] = (unsigned char)(v & 0xff);
    im->buf[off + 1] = (unsigned char)((v >> 8) & 0xff);
    im->buf[off + 2] = (unsigned char)((v >> 16) & 0xff);
    im->buf[off + 3] = (unsigned char)(v >> 24);
    return 0;
}

PRINTF_LIKE(4, 5)
static void report(struct image *im, int ok, const char *check, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;

    detail[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    if (ok)
        printf("PASS: %s: %s%s%s%s\n", im->path, check, detail[0] ? " (" : "", detail,
               detail[0] ? ")" : "");
    else
        printf("FAIL: %s: %s: %s\n", im->path, check, detail);
    if (!ok)
        im->failed = 1;
}

/* Append with truncation; detail strings are for humans, not for parsing. */
static void append(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);

    if (n + 1 < cap)
        snprintf(dst + n, cap - n, "%s", s);
}

static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int ca = (*a >= 'A' && *a <= 'Z') ? *a - 'A' + 'a' : *a;
        int cb = (*b >= 'A' && *b <= 'Z') ? *b - 'A' + 'a' : *b;
        if (ca != cb)
            return 0;
    }
    return *a == *b;
}

static int read_whole(const char *path, unsigned char **out, size_t *outlen, char *why,
                      size_t whylen)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL, *nb;
    size_t len = 0, cap = 0, n;

    if (!f) {
        snprintf(why, whylen, "cannot open: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            /* One byte beyond the limit lets us tell "exactly max" from "too big". */
            if (cap > MAX_FILE_SIZE) {
                snprintf(why, whylen, "file larger than %lu bytes", (unsigned long)MAX_FILE_SIZE);
                goto fail;
            }
            cap = cap ? cap * 2 : 65536;
            if (cap > MAX_FILE_SIZE + 1)
                cap = MAX_FILE_SIZE + 1;
            nb = realloc(buf, cap);
            if (!nb) {
                snprintf(why, whylen, "out of memory");
                goto fail;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                snprintf(why, whylen, "read error: %s", strerror(errno));
                goto fail;
            }
            break;
        }
    }
    if (len > MAX_FILE_SIZE) {
        snprintf(why, whylen, "file larger than %lu bytes", (unsigned long)MAX_FILE_SIZE);
        goto fail;
    }
    fclose(f);
    *out = buf;
    *outlen = len;
    return 0;
fail:
    fclose(f);
    free(buf);
    return -1;
}

/* Validates the headers and section table so later checks can index them. */
static int parse_image(struct image *im, char *why, size_t whylen)
{
    uint32_t lfanew, maxdirs;
    uint16_t sizeopt, magic;
    size_t pe;

    if (im->len < 0x40) {
        snprintf(why, whylen, "file too small for a DOS header (%lu bytes)",
                 (unsigned long)im->len);
        return -1;
    }
    if (im->buf[0] != 'M' || im->buf[1] != 'Z') {
        snprintf(why, whylen, "no MZ signature");
        return -1;
    }
    lfanew = rd32(im, 0x3C);
    if (!in_bounds(im->len, lfanew, 4 + 20)) {
        snprintf(why, whylen, "e_lfanew 0x%lx points outside the file", (unsigned long)lfanew);
        return -1;
    }
    pe = lfanew;
    if (memcmp(im->buf + pe, "PE\0\0", 4) != 0) {
        snprintf(why, whylen, "no PE\\0\\0 signature at 0x%lx", (unsigned long)pe);
        return -1;
    }
    im->coff = pe + 4;
    im->opt = im->coff + 20;
    im->nsect = rd16(im, im->coff + COFF_NSECTIONS);
    sizeopt = rd16(im, im->coff + COFF_SIZEOPT);
    if (!in_bounds(im->len, im->opt, 2)) {
        snprintf(why, whylen, "optional header outside the file");
        return -1;
    }
    magic = rd16(im, im->opt);
    if (magic != OPT_MAGIC_PE32PLUS) {
        snprintf(why, whylen, "optional header magic 0x%x is not PE32+ (0x20b)", magic);
        return -1;
    }
    if (sizeopt < OPT_FIXED_SIZE) {
        snprintf(why, whylen, "SizeOfOptionalHeader %u too small for PE32+", sizeopt);
        return -1;
    }
    if (!in_bounds(im->len, im->opt, sizeopt)) {
        snprintf(why, whylen, "optional header (%u bytes) runs past the end of the file",
                 sizeopt);
        return -1;
    }
    im->ndirs = rd32(im, im->opt + OH_NUM_RVA);
    maxdirs = (uint32_t)(sizeopt - OPT_FIXED_SIZE) / 8u;
    if (im->ndirs > maxdirs) {
        snprintf(why, whylen, "NumberOfRvaAndSizes %lu does not fit SizeOfOptionalHeader %u",
                 (unsigned long)im->ndirs, sizeopt);
        return -1;
    }
    if (im->ndirs > 16)
        im->ndirs = 16; /* as the loader does */
    im->sect = im->opt + sizeopt;
    if (im->nsect == 0) {
        snprintf(why, whylen, "no sections");
        return -1;
    }
    if (!in_bounds(im->len, im->sect, (uint64_t)im->nsect * SECTION_HEADER_SIZE)) {
        snprintf(why, whylen, "section table (%u entries) runs past the end of the file",
                 im->nsect);
        return -1;
    }
    return 0;
}

static struct dir get_dir(const struct image *im, unsigned idx)
{
    struct dir d = { 0, 0 };
    uint64_t off = (uint64_t)im->opt + OPT_FIXED_SIZE + (uint64_t)idx * 8;

    if (idx < im->ndirs && in_bounds(im->len, off, 8)) {
        d.rva = rd32(im, off);
        d.size = rd32(im, off + 4);
    }
    return d;
}

static uint64_t sec_hdr(const struct image *im, unsigned i)
{
    return (uint64_t)im->sect + (uint64_t)i * SECTION_HEADER_SIZE;
}

static uint32_t sec_field(const struct image *im, unsigned i, unsigned field)
{
    return rd32(im, sec_hdr(im, i) + field);
}

/* Printable copy of the 8-byte name; it need not be NUL-terminated. */
static void sec_name(const struct image *im, unsigned i, char out[9])
{
    uint64_t h = sec_hdr(im, i);
    unsigned k;

    for (k = 0; k < 8 && in_bounds(im->len, h + k, 1) && im->buf[h + k]; k++) {
        unsigned char c = im->buf[h + k];
        out[k] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[k] = '\0';
}

/* The loader maps VirtualSize bytes, or SizeOfRawData when VirtualSize is 0. */
static uint32_t sec_vsize(const struct image *im, unsigned i)
{
    uint32_t vs = sec_field(im, i, SH_VSIZE);
    return vs ? vs : sec_field(im, i, SH_RAWSIZE);
}

static int find_section(const struct image *im, uint32_t rva)
{
    unsigned i;

    for (i = 0; i < im->nsect; i++) {
        uint64_t va = sec_field(im, i, SH_VADDR);
        if (rva >= va && rva < va + sec_vsize(im, i))
            return (int)i;
    }
    return -1;
}

/* RVA -> file offset, plus how many bytes are readable there from the file. */
static int rva_to_off(const struct image *im, uint32_t rva, size_t *off, size_t *avail)
{
    int s = find_section(im, rva);

    if (s >= 0) {
        uint64_t delta = rva - (uint64_t)sec_field(im, (unsigned)s, SH_VADDR);
        uint64_t raw = sec_field(im, (unsigned)s, SH_RAWPTR);
        uint64_t rawsize = sec_field(im, (unsigned)s, SH_RAWSIZE);
        uint64_t end = raw + rawsize;

        if (end > im->len)
            end = im->len;
        /* Bytes past SizeOfRawData are zero fill in memory: not in the file. */
        if (delta >= rawsize || raw + delta >= end)
            return -1;
        *off = (size_t)(raw + delta);
        *avail = (size_t)(end - (raw + delta));
        return 0;
    } else {
        uint64_t hdr = rd32(im, im->opt + OH_SIZE_OF_HEADERS);

        if (hdr > im->len)
            hdr = im->len;
        if (rva >= hdr)
            return -1;
        *off = rva;
        *avail = (size_t)(hdr - rva);
        return 0;
    }
}

/*
 * The imagehlp CheckSumMappedFile sum: 16-bit little-endian words added with
 * the carry folded back in, the CheckSum field counted as zero, an odd final
 * byte counted as a word with a zero high byte, then the file length added.
 */
static uint32_t pe_checksum(const unsigned char *buf, size_t len, size_t csoff)
{
    uint32_t sum = 0;
    size_t i;

    for (i = 0; i < len; i += 2) {
        uint32_t lo = buf[i];
        uint32_t hi = (i + 1 < len) ? buf[i + 1] : 0;

        if (i >= csoff && i < csoff + 4)
            lo = 0;
        if (i + 1 >= csoff && i + 1 < csoff + 4)
            hi = 0;
        sum += lo | (hi << 8);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    return sum + (uint32_t)len;
}

static const char *subsystem_name(unsigned s)
{
    switch (s) {
    case 1: return "native";
    case 2: return "windows gui";
    case 3: return "console";
    case 10: return "efi application";
    case 11: return "efi boot service driver";
    case 12: return "efi runtime driver";
    default: return "other";
    }
}

static const struct machine *machine_by_value(uint16_t v)
{
    size_t i;

    for (i = 0; i < sizeof machines / sizeof machines[0]; i++)
        if (machines[i].value == v)
            return &machines[i];
    return NULL;
}

static void check_machine(struct image *im, const struct opts *o)
{
    uint16_t m = rd16(im, im->coff + COFF_MACHINE);
    const struct machine *found = machine_by_value(m);

    if (o->machine)
        report(im, m == o->machine->value, "machine", "0x%04x %s%s%s", m,
               found ? found->name : "unknown", m == o->machine->value ? "" : ", want ",
               m == o->machine->value ? "" : o->machine->name);
    else
        report(im, found != NULL, "machine", "0x%04x %s, not constrained", m,
               found ? found->name : "unknown");
}

static void check_subsystem(struct image *im, const struct opts *o)
{
    unsigned want = o->kind == KIND_DRIVER ? SUBSYSTEM_NATIVE : SUBSYSTEM_CONSOLE;
    unsigned got = rd16(im, im->opt + OH_SUBSYSTEM);

    if (got == want)
        report(im, 1, "subsystem", "%s", subsystem_name(got));
    else
        report(im, 0, "subsystem", "%u (%s), want %u (%s)", got, subsystem_name(got), want,
               subsystem_name(want));
}

static void check_entry(struct image *im)
{
    uint32_t ep = rd32(im, im->opt + OH_ENTRY);
    int s;
    char name[9];

    if (ep == 0) {
        report(im, 0, "entry point", "AddressOfEntryPoint is 0");
        return;
    }
    s = find_section(im, ep);
    if (s < 0) {
        report(im, 0, "entry point", "0x%lx is not inside any section", (unsigned long)ep);
        return;
    }
    sec_name(im, (unsigned)s, name);
    if (!(sec_field(im, (unsigned)s, SH_CHARACTERISTICS) & SCN_MEM_EXECUTE))
        report(im, 0, "entry point", "0x%lx is in non-executable section '%s'",
               (unsigned long)ep, name);
    else
        report(im, 1, "entry point", "0x%lx in %s", (unsigned long)ep, name);
}

static void check_checksum(struct image *im)
{
    size_t csoff = im->opt + OH_CHECKSUM;
    uint32_t stored = rd32(im, csoff);
    uint32_t calc = pe_checksum(im->buf, im->len, csoff);

    if (stored == 0)
        report(im, 0, "checksum", "CheckSum field is 0 (computed 0x%08lx)",
               (unsigned long)calc);
    else if (stored != calc)
        report(im, 0, "checksum", "CheckSum field 0x%08lx != computed 0x%08lx",
               (unsigned long)stored, (unsigned long)calc);
    else
        report(im, 1, "checksum", "0x%08lx", (unsigned long)calc);
}

static void check_wx(struct image *im)
{
    char bad[512] = "";
    char name[9];
    unsigned i, n = 0;

    for (i = 0; i < im->nsect; i++) {
        uint32_t c = sec_field(im, i, SH_CHARACTERISTICS);
        if ((c & SCN_MEM_WRITE) && (c & SCN_MEM_EXECUTE)) {
            sec_name(im, i, name);
            append(bad, sizeof bad, n++ ? ", '" : "'");
            append(bad, sizeof bad, name);
            append(bad, sizeof bad, "'");
        }
    }
    if (n)
        report(im, 0, "no writable+executable section", "section %s is writable and executable",
               bad);
    else
        report(im, 1, "no writable+executable section", NULL);
}

static void check_relocs(struct image *im)
{
    struct dir d = get_dir(im, DIR_BASERELOC);
    uint16_t ch = rd16(im, im->coff + COFF_CHARACTERISTICS);

    if (ch & IMAGE_FILE_RELOCS_STRIPPED)
        report(im, 0, "relocations", "IMAGE_FILE_RELOCS_STRIPPED is set");
    else if (d.rva == 0 || d.size == 0)
        report(im, 0, "relocations", "base relocation directory is empty");
    else
        report(im, 1, "relocations", "%lu bytes", (unsigned long)d.size);
}

/*
 * The code range an ARM64 .pdata entry covers: FunctionLength is in 4-byte units, in the
 * packed form (flag 1 or 2) in bits 2-12 of the second word, else in bits 0-17 of the
 * .xdata record it points to. Returns 0, or -1 when the entry cannot be read.
 */
static int arm64_function_end(const struct image *im, size_t entry, uint64_t *begin,
                              uint64_t *end)
{
    uint32_t unwind = rd32(im, (uint64_t)entry + 4), len;
    size_t off, avail;

    *begin = rd32(im, entry);
    if ((unwind & 3u) == 1u || (unwind & 3u) == 2u) {
        len = (unwind >> 2) & 0x7FFu;
    } else if ((unwind & 3u) == 0u && rva_to_off(im, unwind, &off, &avail) == 0 && avail >= 4) {
        len = rd32(im, off) & 0x3FFFFu;
    } else {
        return -1;
    }
    *end = *begin + (uint64_t)len * 4u;
    return 0;
}

/*
 * ARM64: the entries are sorted and each lies in executable code, and every instruction
 * that calls (BL, BLR) lies inside one, so that every non-leaf function (one that saves
 * its return address) can be unwound. Leaf functions need no entry.
 */
static void check_unwind_arm64(struct image *im, size_t pdata, uint32_t n)
{
    uint64_t prev_end = 0, begin, end;
    uint32_t i, calls = 0;
    unsigned s;

    for (i = 0; i < n; i++) {
        int sec;

        if (arm64_function_end(im, pdata + (size_t)i * 8u, &begin, &end) != 0) {
            report(im, 0, "unwind data", "entry %lu has unreadable unwind data", (unsigned long)i);
            return;
        }
        sec = find_section(im, (uint32_t)begin);
        if (sec < 0 || !(sec_field(im, (unsigned)sec, SH_CHARACTERISTICS) & SCN_MEM_EXECUTE)) {
            report(im, 0, "unwind data", "entry %lu starts at 0x%lx, outside executable code",
                   (unsigned long)i, (unsigned long)begin);
            return;
        }
        if (begin < prev_end) {
            report(im, 0, "unwind data", "entry %lu (0x%lx) is out of order or overlaps",
                   (unsigned long)i, (unsigned long)begin);
            return;
        }
        prev_end = end;
    }
    for (s = 0; s < im->nsect; s++) {
        uint64_t va = sec_field(im, s, SH_VADDR), raw = sec_field(im, s, SH_RAWPTR);
        uint64_t size = sec_field(im, s, SH_RAWSIZE), vs = sec_vsize(im, s), rva;

        if (!(sec_field(im, s, SH_CHARACTERISTICS) & SCN_MEM_EXECUTE))
            continue;
        if (vs < size)
            size = vs;
        if (!in_bounds(im->len, raw, size))
            size = 0;
        for (rva = va; rva + 4 <= va + size; rva += 4) {
            uint32_t insn = rd32(im, raw + (rva - va)), lo = 0, hi = n;

            if ((insn & ARM64_BL_MASK) != ARM64_BL && (insn & ARM64_BLR_MASK) != ARM64_BLR)
                continue;
            calls++;
            /* The entries are sorted (checked above): the last one starting at or before rva. */
            while (hi - lo > 1) {
                uint32_t mid = lo + (hi - lo) / 2;
                arm64_function_end(im, pdata + (size_t)mid * 8u, &begin, &end);
                if (begin <= rva)
                    lo = mid;
                else
                    hi = mid;
            }
            arm64_function_end(im, pdata + (size_t)lo * 8u, &begin, &end);
            if (rva < begin || rva >= end) {
                report(im, 0, "unwind data", "the call at 0x%lx is in no .pdata entry: its "
                                             "function cannot be unwound", (unsigned long)rva);
                return;
            }
        }
    }
    report(im, 1, "unwind data", "%lu functions, all %lu calls covered", (unsigned long)n,
           (unsigned long)calls);
}

/* Windows unwinds every kernel frame through .pdata: without it an exception is a bugcheck. */
static void check_unwind(struct image *im)
{
    struct dir d = get_dir(im, DIR_EXCEPTION);
    const struct machine *m = machine_by_value(rd16(im, im->coff + COFF_MACHINE));
    unsigned entry = m ? m->pdata_entry : 12u;
    size_t off, avail;

    if (d.rva == 0 || d.size == 0)
        report(im, 0, "unwind data", "exception directory (.pdata) is empty");
    else if (d.size % entry)
        report(im, 0, "unwind data", "exception directory size %lu is not a multiple of %u",
               (unsigned long)d.size, entry);
    else if (m && m->value == MACHINE_ARM64 && rva_to_off(im, d.rva, &off, &avail) == 0 &&
             avail >= d.size)
        check_unwind_arm64(im, off, d.size / entry);
    else if (m && m->value == MACHINE_ARM64)
        report(im, 0, "unwind data", "exception directory is not backed by file data");
    else
        report(im, 1, "unwind data", "%lu functions", (unsigned long)(d.size / entry));
}

/*
 * A driver also needs FORCE_INTEGRITY: PsSetCreateProcessNotifyRoutineEx refuses an image
 * without it (STATUS_ACCESS_DENIED), and Windows then checks its signature at every load.
 */
static void check_dllchar(struct image *im, const struct opts *o)
{
    uint16_t dc = rd16(im, im->opt + OH_DLLCHAR);
    char miss[64] = "";

    if (!(dc & DLLCHAR_NX_COMPAT))
        append(miss, sizeof miss, " NX_COMPAT");
    if (!(dc & DLLCHAR_DYNAMIC_BASE))
        append(miss, sizeof miss, " DYNAMIC_BASE");
    if (o->kind == KIND_DRIVER && !(dc & DLLCHAR_FORCE_INTEGRITY))
        append(miss, sizeof miss, " FORCE_INTEGRITY");
    if (miss[0])
        report(im, 0, "dll characteristics", "0x%04x lacks%s", dc, miss);
    else
        report(im, 1, "dll characteristics", "0x%04x: NX_COMPAT DYNAMIC_BASE%s", dc,
               o->kind == KIND_DRIVER ? " FORCE_INTEGRITY" : "");
}

/* Windows 10's drivers say 10.0 for both, as the WDK writes them. */
static void check_versions(struct image *im, const struct opts *o)
{
    unsigned os_major = rd16(im, im->opt + OH_OS_VERSION);
    unsigned os_minor = rd16(im, im->opt + OH_OS_VERSION + 2);
    unsigned sub_major = rd16(im, im->opt + OH_SUBSYSTEM_VERSION);
    unsigned sub_minor = rd16(im, im->opt + OH_SUBSYSTEM_VERSION + 2);
    int ok = os_major == 10 && os_minor == 0 && sub_major == 10 && sub_minor == 0;

    if (o->kind != KIND_DRIVER)
        report(im, 1, "os and subsystem versions", "%u.%u and %u.%u, only constrained for a driver",
               os_major, os_minor, sub_major, sub_minor);
    else
        report(im, ok, "os and subsystem versions", "%u.%u and %u.%u%s", os_major, os_minor,
               sub_major, sub_minor, ok ? "" : ", want 10.0 and 10.0");
}

/* The file offset of the debug directory's entry of the given type, or 0 when there is none. */
static size_t find_debug_entry(const struct image *im, uint32_t type)
{
    struct dir d = get_dir(im, DIR_DEBUG);
    size_t off, avail, i;

    if (d.rva == 0 || d.size == 0 || rva_to_off(im, d.rva, &off, &avail) != 0)
        return 0;
    if (avail > d.size)
        avail = d.size;
    for (i = 0; i + DEBUG_ENTRY_SIZE <= avail; i += DEBUG_ENTRY_SIZE)
        if (rd32(im, off + i + 12) == type)
            return off + i;
    return 0;
}

/* Kernel shadow stacks (Windows 11) need the image marked CET-compatible. */
static void check_cet(struct image *im)
{
    size_t entry = find_debug_entry(im, DEBUG_TYPE_EX_DLLCHARACTERISTICS);
    uint32_t size, raw;

    if (entry == 0) {
        report(im, 0, "cet compatible", "no extended dll characteristics in the debug directory");
        return;
    }
    size = rd32(im, entry + 16);
    raw = rd32(im, entry + 24);
    if (size < 4 || !in_bounds(im->len, raw, 4))
        report(im, 0, "cet compatible", "extended dll characteristics: %lu bytes at 0x%lx",
               (unsigned long)size, (unsigned long)raw);
    else if (!(rd32(im, raw) & DLLCHAR_EX_CET_COMPAT))
        report(im, 0, "cet compatible", "extended dll characteristics 0x%08lx lack CET_COMPAT",
               (unsigned long)rd32(im, raw));
    else
        report(im, 1, "cet compatible", "extended dll characteristics 0x%08lx",
               (unsigned long)rd32(im, raw));
}

static void check_alignment(struct image *im, const struct opts *o)
{
    uint32_t a = rd32(im, im->opt + OH_SECTION_ALIGN);

    if (a == 0x1000)
        report(im, 1, "section alignment", "0x1000");
    else if (o->kind != KIND_DRIVER)
        report(im, 1, "section alignment", "0x%lx, only required for a driver",
               (unsigned long)a);
    else
        report(im, 0, "section alignment", "0x%lx, want 0x1000", (unsigned long)a);
}

static int is_kernel_dll(const char *name)
{
    return ascii_ieq(name, "ntoskrnl.exe") || ascii_ieq(name, "hal.dll");
}

static void check_imports(struct image *im, const struct opts *o)
{
    struct dir d = get_dir(im, DIR_IMPORT);
    char list[512] = "", bad[512] = "";
    size_t off, avail;
    unsigned k, nbad = 0;
    int driver = o->kind == KIND_DRIVER;

    if (d.rva == 0 || d.size == 0) {
        if (driver)
            report(im, 0, "imports", "no import directory; a driver must import ntoskrnl.exe "
                                     "or hal.dll");
        else
            report(im, 1, "imports", "none");
        return;
    }
    if (rva_to_off(im, d.rva, &off, &avail) != 0) {
        report(im, 0, "imports", "import directory RVA 0x%lx is not backed by file data",
               (unsigned long)d.rva);
        return;
    }
    for (k = 0;; k++) {
        uint64_t desc = (uint64_t)off + (uint64_t)k * IMPORT_DESC_SIZE;
        uint32_t oft, name_rva, iat;
        size_t noff, navail, n;
        char name[MAX_DLL_NAME];

        if (k >= MAX_IMPORTS) {
            report(im, 0, "imports", "more than %u import descriptors", MAX_IMPORTS);
            return;
        }
        if ((uint64_t)(k + 1) * IMPORT_DESC_SIZE > avail ||
            !in_bounds(im->len, desc, IMPORT_DESC_SIZE)) {
            report(im, 0, "imports", "import descriptor %u runs past its section's data", k);
            return;
        }
        oft = rd32(im, desc);
        name_rva = rd32(im, desc + 12);
        iat = rd32(im, desc + 16);
        if (oft == 0 && name_rva == 0 && iat == 0)
            break; /* the null terminator */
        if (name_rva == 0) {
            report(im, 0, "imports", "import descriptor %u has no DLL name", k);
            return;
        }
        if (rva_to_off(im, name_rva, &noff, &navail) != 0) {
            report(im, 0, "imports", "DLL name RVA 0x%lx is not backed by file data",
                   (unsigned long)name_rva);
            return;
        }
        /* Copy only printable ASCII: the name goes to a terminal and a log. */
        for (n = 0; n < navail && n < sizeof name - 1; n++) {
            unsigned char c = im->buf[noff + n];
            if (c == 0)
                break;
            if (c < 0x20 || c >= 0x7f) {
                report(im, 0, "imports", "DLL name at RVA 0x%lx has a non-printable byte",
                       (unsigned long)name_rva);
                return;
            }
            name[n] = (char)c;
        }
        if (n == navail || n == sizeof name - 1 || n == 0) {
            report(im, 0, "imports", "DLL name at RVA 0x%lx is empty, unterminated or too long",
                   (unsigned long)name_rva);
            return;
        }
        name[n] = '\0';
        append(list, sizeof list, k ? ", " : "");
        append(list, sizeof list, name);
        if (driver != is_kernel_dll(name)) {
            append(bad, sizeof bad, nbad++ ? ", " : "");
            append(bad, sizeof bad, name);
        }
    }
    if (driver && k == 0)
        report(im, 0, "imports", "import directory is empty; a driver must import "
                                 "ntoskrnl.exe or hal.dll");
    else if (nbad && driver)
        report(im, 0, "imports", "driver imports %s; only ntoskrnl.exe and hal.dll allowed "
                                 "(all: %s)", bad, list);
    else if (nbad)
        report(im, 0, "imports", "user-mode program imports kernel module %s (all: %s)", bad,
               list);
    else
        report(im, 1, "imports", "%s", k ? list : "none");
}

static void check_signed(struct image *im)
{
    struct dir d = get_dir(im, DIR_SECURITY);
    uint32_t dwlen;
    uint16_t rev, type;

    /* The security directory's "RVA" is a plain file offset. */
    if (d.rva == 0 || d.size == 0) {
        report(im, 0, "certificate table", "security directory is empty (not signed)");
        return;
    }
    if (!in_bounds(im->len, d.rva, d.size)) {
        report(im, 0, "certificate table", "0x%lx+0x%lx is outside the file (0x%lx bytes)",
               (unsigned long)d.rva, (unsigned long)d.size, (unsigned long)im->len);
        return;
    }
    if (d.size < 8) {
        report(im, 0, "certificate table", "%lu bytes is too small for a WIN_CERTIFICATE",
               (unsigned long)d.size);
        return;
    }
    dwlen = rd32(im, d.rva);
    rev = rd16(im, (uint64_t)d.rva + 4);
    type = rd16(im, (uint64_t)d.rva + 6);
    if (dwlen < 8 || dwlen > d.size)
        report(im, 0, "certificate table", "WIN_CERTIFICATE dwLength %lu out of range 8..%lu",
               (unsigned long)dwlen, (unsigned long)d.size);
    else if (rev != WIN_CERT_REVISION_2_0)
        report(im, 0, "certificate table", "wRevision 0x%04x, want 0x0200", rev);
    else if (type != WIN_CERT_TYPE_PKCS_SIGNED_DATA)
        report(im, 0, "certificate table", "wCertificateType 0x%04x, want 0x0002 "
                                           "(PKCS_SIGNED_DATA)", type);
    else
        report(im, 1, "certificate table", "%lu bytes, PKCS_SIGNED_DATA",
               (unsigned long)dwlen);
}

static int load(struct image *im, const char *path)
{
    char why[256];

    memset(im, 0, sizeof *im);
    im->path = path;
    if (read_whole(path, &im->buf, &im->len, why, sizeof why) != 0) {
        printf("FAIL: %s: read: %s\n", path, why);
        return RC_ERROR;
    }
    if (parse_image(im, why, sizeof why) != 0) {
        report(im, 0, "pe32+ format", "%s", why);
        return RC_ERROR;
    }
    return RC_OK;
}

static int check_file(const char *path, const struct opts *o)
{
    struct image im;
    int rc = load(&im, path);

    if (rc == RC_OK) {
        report(&im, 1, "pe32+ format", NULL);
        check_machine(&im, o);
        check_subsystem(&im, o);
        check_entry(&im);
        check_checksum(&im);
        check_wx(&im);
        check_relocs(&im);
        check_unwind(&im);
        check_dllchar(&im, o);
        check_alignment(&im, o);
        check_versions(&im, o);
        if (o->cet)
            check_cet(&im);
        check_imports(&im, o);
        if (o->sign)
            check_signed(&im);
        rc = im.failed ? RC_FAIL : RC_OK;
    }
    free(im.buf);
    return rc;
}

/* TEST SUPPORT: drop the ARM64 .pdata entry whose function holds the entry point. */
static int uncover(struct image *im)
{
    uint64_t e = (uint64_t)im->opt + OPT_FIXED_SIZE + (uint64_t)DIR_EXCEPTION * 8;
    struct dir d = get_dir(im, DIR_EXCEPTION);
    uint32_t ep = rd32(im, im->opt + OH_ENTRY), n = d.size / 8u, i;
    uint64_t begin, end;
    size_t off, avail;

    if (rd16(im, im->coff + COFF_MACHINE) != MACHINE_ARM64 || n == 0 ||
        rva_to_off(im, d.rva, &off, &avail) != 0 || avail < d.size) {
        fprintf(stderr, "pecheck: --mutate uncover: %s has no ARM64 .pdata\n", im->path);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (arm64_function_end(im, off + (size_t)i * 8u, &begin, &end) == 0 && ep >= begin &&
            ep < end) {
            memmove(im->buf + off + (size_t)i * 8u, im->buf + off + (size_t)(i + 1) * 8u,
                    (size_t)(n - 1 - i) * 8u);
            memset(im->buf + off + (size_t)(n - 1) * 8u, 0, 8);
            return wr32(im, e + 4, d.size - 8u);
        }
    }
    fprintf(stderr, "pecheck: --mutate uncover: no .pdata entry covers the entry point\n");
    return -1;
}

/* TEST SUPPORT: break one property of IN and write the result to OUT. */
static int mutate(const char *mode, const char *in, const char *out)
{
    struct image im;
    size_t csoff;
    uint32_t stored;
    int valid, err = 0;
    FILE *f;

    if (load(&im, in) != RC_OK) {
        free(im.buf);
        return RC_ERROR;
    }
    csoff = im.opt + OH_CHECKSUM;
    stored = rd32(&im, csoff);
    valid = stored == pe_checksum(im.buf, im.len, csoff);
    if (strcmp(mode, "checksum") == 0) {
        err = wr32(&im, csoff, stored + 1);
        valid = 0; /* leave the broken value in place */
    } else if (strcmp(mode, "wx") == 0) {
        uint64_t c = sec_hdr(&im, 0) + SH_CHARACTERISTICS;
        err = wr32(&im, c, rd32(&im, c) | (uint32_t)(SCN_MEM_WRITE | SCN_MEM_EXECUTE));
    } else if (strcmp(mode, "nx") == 0) {
        uint16_t dc = rd16(&im, im.opt + OH_DLLCHAR);
        if (!(dc & DLLCHAR_NX_COMPAT)) {
            fprintf(stderr, "pecheck: --mutate nx: %s already lacks NX_COMPAT\n", in);
            err = -1;
        } else {
            err = wr16(&im, im.opt + OH_DLLCHAR, (uint16_t)(dc & ~DLLCHAR_NX_COMPAT));
        }
    } else if (strcmp(mode, "nointeg") == 0) {
        uint16_t dc = rd16(&im, im.opt + OH_DLLCHAR);
        if (!(dc & DLLCHAR_FORCE_INTEGRITY)) {
            fprintf(stderr, "pecheck: --mutate nointeg: %s already lacks FORCE_INTEGRITY\n", in);
            err = -1;
        } else {
            err = wr16(&im, im.opt + OH_DLLCHAR, (uint16_t)(dc & ~DLLCHAR_FORCE_INTEGRITY));
        }
    } else if (strcmp(mode, "nounwind") == 0) {
        uint64_t e = (uint64_t)im.opt + OPT_FIXED_SIZE + (uint64_t)DIR_EXCEPTION * 8;
        err = wr32(&im, e, 0) || wr32(&im, e + 4, 0);
    } else if (strcmp(mode, "uncover") == 0) {
        err = uncover(&im);
    } else if (strcmp(mode, "nosig") == 0) {
        struct dir d = get_dir(&im, DIR_SECURITY);
        uint64_t e = (uint64_t)im.opt + OPT_FIXED_SIZE + (uint64_t)DIR_SECURITY * 8;
        if (d.rva == 0 && d.size == 0) {
            fprintf(stderr, "pecheck: --mutate nosig: %s has no certificate table\n", in);
            err = -1;
        } else {
            err = wr32(&im, e, 0) || wr32(&im, e + 4, 0);
        }
    } else if (strcmp(mode, "oldos") == 0) {
        err = wr16(&im, im.opt + OH_SUBSYSTEM_VERSION, 6) || wr16(&im, im.opt + OH_OS_VERSION, 6);
    } else if (strcmp(mode, "nocet") == 0) {
        size_t entry = find_debug_entry(&im, DEBUG_TYPE_EX_DLLCHARACTERISTICS);
        if (entry == 0) {
            fprintf(stderr, "pecheck: --mutate nocet: %s is not marked CET-compatible\n", in);
            err = -1;
        } else {
            err = wr32(&im, entry + 12, 0); /* the entry's type becomes "unknown" */
        }
    } else {
        fprintf(stderr, "pecheck: --mutate: unknown mode '%s' (checksum|wx|nx|nointeg|nounwind|nosig|oldos|nocet|uncover)\n", mode);
        err = -1;
    }
    if (!err && valid)
        err = wr32(&im, csoff, pe_checksum(im.buf, im.len, csoff));
    if (!err) {
        f = fopen(out, "wb");
        if (!f || fwrite(im.buf, 1, im.len, f) != im.len) {
            fprintf(stderr, "pecheck: %s: cannot write: %s\n", out, strerror(errno));
            err = -1;
        }
        if (f && fclose(f) != 0 && !err) {
            fprintf(stderr, "pecheck: %s: cannot write: %s\n", out, strerror(errno));
            err = -1;
        }
    }
    free(im.buf);
    return err ? RC_ERROR : RC_OK;
}

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "pecheck: %s\n", msg);
    fprintf(stderr, "usage: pecheck --kind driver|exe [--machine x64|arm64] [--signed] [--cet] FILE...\n");
    return RC_ERROR;
}

int main(int argc, char **argv)
{
    struct opts o = { KIND_NONE, NULL, 0, 0 };
    int i, nfiles = 0, rc = RC_OK, only_files = 0;
    size_t m;

    if (argc >= 2 && strcmp(argv[1], "--mutate") == 0) {
        if (argc != 5)
            return usage("--mutate MODE IN OUT takes exactly three arguments");
        return mutate(argv[2], argv[3], argv[4]);
    }
    /* First pass: options may appear anywhere before "--". */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (only_files || a[0] != '-' || a[1] == '\0') {
            nfiles++;
        } else if (strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (strcmp(a, "--signed") == 0) {
            o.sign = 1;
        } else if (strcmp(a, "--cet") == 0) {
            o.cet = 1;
        } else if (strcmp(a, "--kind") == 0) {
            if (++i >= argc)
                return usage("--kind needs an argument");
            if (strcmp(argv[i], "driver") == 0)
                o.kind = KIND_DRIVER;
            else if (strcmp(argv[i], "exe") == 0)
                o.kind = KIND_EXE;
            else
                return usage("--kind must be driver or exe");
        } else if (strcmp(a, "--machine") == 0) {
            if (++i >= argc)
                return usage("--machine needs an argument");
            o.machine = NULL;
            for (m = 0; m < sizeof machines / sizeof machines[0]; m++)
                if (strcmp(argv[i], machines[m].name) == 0)
                    o.machine = &machines[m];
            if (!o.machine) {
                fprintf(stderr, "pecheck: unknown --machine '%s'; known:", argv[i]);
                for (m = 0; m < sizeof machines / sizeof machines[0]; m++)
                    fprintf(stderr, " %s", machines[m].name);
                fprintf(stderr, "\n");
                return usage(NULL);
            }
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(NULL);
            return RC_OK;
        } else {
            fprintf(stderr, "pecheck: unknown option '%s'\n", a);
            return usage(NULL);
        }
    }
    if (o.kind == KIND_NONE)
        return usage("--kind is required");
    if (nfiles == 0)
        return usage("no FILE given");
    /* Second pass: check the files in order; the worst result wins. */
    only_files = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;

        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
            continue;
        }
        if (!only_files && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--kind") == 0 || strcmp(a, "--machine") == 0)
                i++;
            continue;
        }
        r = check_file(a, &o);
        if (r > rc)
            rc = r;
    }
    fflush(stdout);
    return ferror(stdout) ? RC_ERROR : rc;
}
