/* SPDX-License-Identifier: MIT */
/*
 * sanctumctl trust-cert: the test certificate into (or out of) LocalMachine\Root and
 * LocalMachine\TrustedPublisher, the two stores Windows consults before it loads a test-signed
 * driver; and the same lookup for doctor.
 */
#include "sanctumctl.h"

#include <wincrypt.h>

#include <stdlib.h>
#include <string.h>

#define CERT_ENCODING     (X509_ASN_ENCODING | PKCS_7_ASN_ENCODING)
#define CERT_MAX_BYTES    (1024 * 1024) /* a certificate is a few KiB; refuse anything huge */
#define PEM_BEGIN         "-----BEGIN CERTIFICATE-----"
#define PEM_BEGIN_W       L"-----BEGIN CERTIFICATE-----"
#define ADVICE_NOT_A_CERT L"not a certificate: expected DER, or PEM with " PEM_BEGIN_W
#define ADVICE_NO_FILE                                                                       \
    L"no such file: pass the path of the certificate the driver is signed with (DER or PEM)"

/* Windows refuses a test-signed driver unless its certificate is in both. */
static const wchar_t *const store_names[] = { L"Root", L"TrustedPublisher" };
#define STORE_COUNT (sizeof store_names / sizeof store_names[0])

struct cert {
    PCCERT_CONTEXT ctx;
    wchar_t subject[256]; /* CN=..., or the whole subject when it has no CN */
    wchar_t thumbprint[41]; /* SHA-1 of the encoding, upper-case hex, as PowerShell shows it */
};

/* crypt32 reports some Win32 errors as HRESULTs: print them as the Win32 code. */
static DWORD last_error(void)
{
    DWORD error = GetLastError();

    if ((error & 0xFFFF0000UL) == 0x80070000UL) /* HRESULT_FROM_WIN32 */
        error &= 0xFFFF;
    return error != ERROR_SUCCESS ? error : ERROR_GEN_FAILURE;
}

/* The whole file, at most CERT_MAX_BYTES, in a buffer the caller frees. */
static DWORD read_file(const wchar_t *path, BYTE **data, DWORD *size)
{
    LARGE_INTEGER file_size;
    DWORD error = ERROR_SUCCESS;

    *data = NULL;
    *size = 0;
    HANDLE file = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                              FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE)
        return GetLastError();
    if (!GetFileSizeEx(file, &file_size))
        error = GetLastError();
    else if (file_size.QuadPart > CERT_MAX_BYTES)
        error = ERROR_INVALID_DATA;
    else if ((*data = malloc((size_t)file_size.QuadPart + 1)) == NULL)
        error = ERROR_NOT_ENOUGH_MEMORY;
    else if (!ReadFile(file, *data, (DWORD)file_size.QuadPart, size, NULL))
        error = GetLastError();
    CloseHandle(file);
    if (error != ERROR_SUCCESS) {
        free(*data);
        *data = NULL;
    }
    return error;
}

/* The first PEM certificate block in data, or NULL. */
static const char *find_pem(const BYTE *data, DWORD size)
{
    const size_t marker = sizeof PEM_BEGIN - 1;

    for (DWORD i = 0; size >= marker && i <= size - marker; i++)
        if (memcmp(data + i, PEM_BEGIN, marker) == 0)
            return (const char *)data + i;
    return NULL;
}

/* A certificate context from DER, or from the first PEM certificate block. */
static DWORD decode_cert(const BYTE *data, DWORD size, PCCERT_CONTEXT *ctx)
{
    const char *pem = find_pem(data, size);
    DWORD der_size = 0;

    if (pem == NULL) {
        *ctx = CertCreateCertificateContext(CERT_ENCODING, data, size);
        return *ctx != NULL ? ERROR_SUCCESS : last_error();
    }
    DWORD pem_size = size - (DWORD)((const BYTE *)pem - data);
    if (!CryptStringToBinaryA(pem, pem_size, CRYPT_STRING_BASE64HEADER, NULL, &der_size, NULL,
                              NULL))
        return last_error();
    BYTE *der = malloc(der_size);
    if (der == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;
    DWORD error = ERROR_SUCCESS;
    if (!CryptStringToBinaryA(pem, pem_size, CRYPT_STRING_BASE64HEADER, der, &der_size, NULL,
                              NULL))
        error = last_error();
    else if ((*ctx = CertCreateCertificateContext(CERT_ENCODING, der, der_size)) == NULL)
        error = last_error();
    free(der);
    return error;
}

static void describe_cert(struct cert *c)
{
    static const wchar_t hex[] = L"0123456789ABCDEF";
    const size_t cap = sizeof c->subject / sizeof c->subject[0];
    BYTE hash[20];
    DWORD size = sizeof hash;
    wchar_t cn[240];

    if (CertGetNameStringW(c->ctx, CERT_NAME_ATTR_TYPE, 0, (void *)szOID_COMMON_NAME, cn,
                           sizeof cn / sizeof cn[0]) > 1)
        swprintf(c->subject, cap, L"CN=%ls", cn);
    else if (CertNameToStrW(X509_ASN_ENCODING, &c->ctx->pCertInfo->Subject, CERT_X500_NAME_STR,
                            c->subject, (DWORD)cap) <= 1)
        wcscpy(c->subject, L"(no subject)");

    c->thumbprint[0] = L'\0';
    if (CertGetCertificateContextProperty(c->ctx, CERT_SHA1_HASH_PROP_ID, hash, &size) &&
        size == sizeof hash) {
        for (DWORD i = 0; i < size; i++) {
            c->thumbprint[2 * i] = hex[hash[i] >> 4];
            c->thumbprint[2 * i + 1] = hex[hash[i] & 0xF];
        }
        c->thumbprint[2 * size] = L'\0';
    }
}

/*
 * Reads and decodes the certificate in `path`. On failure *step says what failed ("read" or
 * "decode") and *advice what to do.
 */
static DWORD load_cert(const wchar_t *path, struct cert *c, const wchar_t **step,
                       const wchar_t **advice)
{
    BYTE *data;
    DWORD size;

    c->ctx = NULL;
    *step = L"read";
    *advice = NULL;
    DWORD attributes = GetFileAttributesW(path);
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY)) {
        *advice = L"that is a directory: pass the certificate file in it";
        return ERROR_FILE_NOT_FOUND;
    }
    DWORD error = read_file(path, &data, &size);
    if (error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND) {
        *advice = ADVICE_NO_FILE;
        return error;
    }
    if (error == ERROR_INVALID_DATA) { /* too large */
        *step = L"decode";
        *advice = ADVICE_NOT_A_CERT;
        return error;
    }
    if (error != ERROR_SUCCESS)
        return error;

    error = decode_cert(data, size, &c->ctx);
    free(data);
    if (error != ERROR_SUCCESS) {
        *step = L"decode";
        *advice = ADVICE_NOT_A_CERT;
        return error;
    }
    describe_cert(c);
    return ERROR_SUCCESS;
}

static void free_cert(struct cert *c)
{
    if (c->ctx != NULL)
        CertFreeCertificateContext(c->ctx);
    c->ctx = NULL;
}

/* A LocalMachine system store; NULL with *error set. A store that does not exist is empty. */
static HCERTSTORE open_store(const wchar_t *name, DWORD flags, DWORD *error)
{
    HCERTSTORE store = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                                     CERT_SYSTEM_STORE_LOCAL_MACHINE | flags, name);

    *error = store != NULL ? ERROR_SUCCESS : last_error();
    return store;
}

/* Whether the store holds this very certificate (same encoding), read-only. */
static DWORD store_contains(const wchar_t *name, const struct cert *c, int *present)
{
    DWORD error;

    *present = 0;
    HCERTSTORE store = open_store(name, CERT_STORE_READONLY_FLAG | CERT_STORE_OPEN_EXISTING_FLAG,
                                  &error);
    if (store == NULL)
        return error == ERROR_FILE_NOT_FOUND ? ERROR_SUCCESS : error;
    PCCERT_CONTEXT found = CertFindCertificateInStore(store, CERT_ENCODING, 0, CERT_FIND_EXISTING,
                                                      c->ctx, NULL);
    if (found != NULL) {
        *present = 1;
        CertFreeCertificateContext(found);
    }
    CertCloseStore(store, 0);
    return ERROR_SUCCESS;
}

/*
 * Changes are committed before the store is closed: Wine 8 otherwise keeps a deleted
 * certificate in the registry (the deletion is queued, and the store is never flushed).
 * Windows writes registry stores through at once and ignores the commit.
 */
static DWORD commit_and_close(HCERTSTORE store, DWORD error)
{
    if (!CertControlStore(store, 0, CERT_STORE_CTRL_COMMIT, NULL) && error == ERROR_SUCCESS)
        error = last_error();
    CertCloseStore(store, 0);
    return error;
}

static DWORD store_add(const wchar_t *name, const struct cert *c)
{
    DWORD error;
    HCERTSTORE store = open_store(name, 0, &error);

    if (store == NULL)
        return error;
    if (!CertAddEncodedCertificateToStore(store, X509_ASN_ENCODING, c->ctx->pbCertEncoded,
                                          c->ctx->cbCertEncoded,
                                          CERT_STORE_ADD_REPLACE_EXISTING, NULL))
        error = last_error();
    return commit_and_close(store, error);
}

static DWORD store_remove(const wchar_t *name, const struct cert *c)
{
    DWORD error;
    HCERTSTORE store = open_store(name, CERT_STORE_OPEN_EXISTING_FLAG, &error);

    if (store == NULL)
        return error;
    PCCERT_CONTEXT found = CertFindCertificateInStore(store, CERT_ENCODING, 0, CERT_FIND_EXISTING,
                                                      c->ctx, NULL);
    if (found == NULL)
        error = last_error();
    else if (!CertDeleteCertificateFromStore(found)) /* frees `found` in any case */
        error = last_error();
    return commit_and_close(store, error);
}

/* One store: report what was there and what was done, or the failure line. */
static int trust_in_store(const wchar_t *name, const struct cert *c, int remove)
{
    wchar_t op[96];
    int present;

    swprintf(op, sizeof op / sizeof op[0], L"trust-cert: %ls LocalMachine\\%ls",
             remove ? L"remove from" : L"add to", name);
    /* Look first (no elevation needed): a store already as wanted is left untouched. */
    DWORD error = store_contains(name, c, &present);
    if (error == ERROR_SUCCESS && present == !remove) {
        out(L"%ls LocalMachine\\%ls: %ls (thumbprint %ls)\n", remove ? L"not in" : L"already in",
            name, c->subject, c->thumbprint);
        return EXIT_OK;
    }
    if (error == ERROR_SUCCESS)
        error = remove ? store_remove(name, c) : store_add(name, c);
    if (error != ERROR_SUCCESS)
        return fail(op, error, CTX_ANY);
    out(L"%ls LocalMachine\\%ls: %ls (thumbprint %ls)\n", remove ? L"removed from" : L"added to",
        name, c->subject, c->thumbprint);
    return EXIT_OK;
}

int cmd_trust_cert(int argc, wchar_t **argv)
{
    const wchar_t *file = NULL, *step, *advice;
    struct cert c;
    int remove = 0;

    for (int i = 0; i < argc; i++) {
        if (wcscmp(argv[i], L"--remove") == 0 && !remove)
            remove = 1;
        else if (argv[i][0] == L'-' && argv[i][1] == L'-')
            return command_usage_error(L"trust-cert", L"unknown option '%.64ls'", argv[i]);
        else if (file == NULL)
            file = argv[i];
        else
            return command_usage_error(L"trust-cert", L"more than one FILE given");
    }
    if (file == NULL)
        return command_usage_error(L"trust-cert", L"no FILE given");

    DWORD error = load_cert(file, &c, &step, &advice);
    if (error != ERROR_SUCCESS) {
        wchar_t op[64 + MAX_PATH];
        swprintf(op, sizeof op / sizeof op[0], L"trust-cert: %ls %.*ls", step, MAX_PATH, file);
        return advice != NULL ? fail_because(op, error, L"%ls", advice)
                              : fail(op, error, CTX_ANY);
    }
    int rc = EXIT_OK;
    for (size_t i = 0; i < STORE_COUNT && rc == EXIT_OK; i++)
        rc = trust_in_store(store_names[i], &c, remove);
    free_cert(&c);
    return rc;
}

int cert_check(const wchar_t *file)
{
    const wchar_t *step, *advice, *quote = wcschr(file, L' ') ? L"\"" : L"";
    wchar_t text[600], missing[128] = L"";
    struct cert c;
    int present;

    DWORD error = load_cert(file, &c, &step, &advice);
    if (error != ERROR_SUCCESS) {
        describe_error(error, text, sizeof text / sizeof text[0]);
        return doctor_line(0, L"certificate",
                           wcscmp(step, L"read") == 0
                               ? L"cannot read %ls: %ls; pass --cert FILE.cer, the certificate "
                                 L"the driver is signed with (DER or PEM)"
                               : L"%ls is not a certificate: %ls; pass --cert FILE.cer, the "
                                 L"certificate the driver is signed with (DER or PEM)",
                           file, text);
    }
    for (size_t i = 0; i < STORE_COUNT; i++) {
        error = store_contains(store_names[i], &c, &present);
        if (error != ERROR_SUCCESS) {
            describe_error(error, text, sizeof text / sizeof text[0]);
            free_cert(&c);
            return doctor_line(0, L"certificate",
                               L"cannot search LocalMachine\\%ls: %ls; look with certlm.msc",
                               store_names[i], text);
        }
        size_t used = wcslen(missing);
        if (!present)
            swprintf(missing + used, sizeof missing / sizeof missing[0] - used,
                     L"%lsLocalMachine\\%ls", used > 0 ? L" and " : L"", store_names[i]);
    }
    int ok = missing[0] == L'\0';
    if (ok)
        doctor_line(1, L"certificate",
                    L"%ls (thumbprint %ls) is in LocalMachine\\Root and "
                    L"LocalMachine\\TrustedPublisher",
                    c.subject, c.thumbprint);
    else
        doctor_line(0, L"certificate",
                    L"%ls (thumbprint %ls) is not in %ls; run: " PROGRAM L" trust-cert %ls%ls%ls",
                    c.subject, c.thumbprint, missing, quote, file, quote);
    free_cert(&c);
    return ok;
}
