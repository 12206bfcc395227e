/* Runs the archive fuzz target over small built-in archives and their mutants. */
#include "core/archive/test_sink.h"
#include "lib/base/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A minimal OCI layout and a minimal docker archive. */
static char *seed_oci(size_t *len)
{
    static const char config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    struct tar_builder *t = tar_builder_new();
    tar_add_string(t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
    _cleanup_free_ char *cd = xstrdup(tar_add_blob(t, config, strlen(config)));
    _cleanup_free_ char *ld = xstrdup(tar_add_blob(t, "layer", 5));
    _cleanup_free_ char *m = xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
        "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
        "\"digest\":\"%s\",\"size\":5}]}",
        cd, strlen(config), ld);
    _cleanup_free_ char *md = xstrdup(tar_add_blob(t, m, strlen(m)));
    _cleanup_free_ char *idx =
        xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
                  "vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{"
                  "\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{"
                  "\"io.containerd.image.name\":\"docker.io/library/x:1\","
                  "\"org.opencontainers.image.ref.name\":\"1\"}}]}",
                  md, strlen(m));
    tar_add_string(t, "index.json", idx);
    return tar_builder_finish(t, len);
}

static char *seed_docker(size_t *len)
{
    struct tar_builder *t = tar_builder_new();
    tar_add_string(t, "a/layer.tar", "layer");
    tar_add_symlink(t, "b/layer.tar", "../a/layer.tar");
    tar_add_string(t, "c.json", "{\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\"}");
    tar_add_string(t, "manifest.json",
                   "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\",\"y/z\"],\"Layers\":["
                   "\"a/layer.tar\",\"b/layer.tar\"]}]");
    return tar_builder_finish(t, len);
}

/* Truncations at every block, and bytes replaced across the headers and JSON. */
static size_t run_mutants(const uint8_t *data, size_t size)
{
    static const uint8_t replacements[] = {0, '/', '.', '"', '{', '5', 0xff};
    size_t runs = 0;
    _cleanup_free_ uint8_t *copy = xmemdup(data, size);
    LLVMFuzzerTestOneInput(data, size);
    for (size_t n = 0; n < size; n += 256, runs++)
        LLVMFuzzerTestOneInput(data, n);
    for (size_t i = 0; i < size; i += 4) {
        if (data[i] == 0 && (i % 512) > 300)
            continue; /* header padding: nothing to learn */
        uint8_t saved = copy[i];
        for (size_t r = 0; r < sizeof(replacements); r++, runs++) {
            copy[i] = replacements[r];
            LLVMFuzzerTestOneInput(copy, size);
        }
        copy[i] = saved;
    }
    return runs;
}

int main(void)
{
    size_t runs = 0, len = 0;
    char *(*seeds[])(size_t *) = {seed_oci, seed_docker};
    for (size_t i = 0; i < ARRAY_SIZE(seeds); i++) {
        _cleanup_free_ char *data = seeds[i](&len);
        runs += run_mutants((const uint8_t *)data, len);
    }
    printf("fuzz-archive: %zu runs over %zu seeds\n", runs, ARRAY_SIZE(seeds));
    return 0;
}
