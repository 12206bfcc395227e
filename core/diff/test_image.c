/* The 3-layer busybox image from tests/images: applied natively, and as overlay lowers mounted. */
#include "core/diff/test_layers.h"

#include "lib/base/alloc.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char *work;
static char *layers[8], *diff_ids[8];
static size_t n_layers;

/* Lists "blob-path diff_id" per layer, in order, using Debian's python3 for the JSON. */
static const char *lister =
    "import json,sys,tarfile,os\n"
    "d=sys.argv[1]\n"
    "tarfile.open(os.path.join(d,'busybox-3layer-oci.tar')).extractall(os.path.join(d,'x'))\n"
    "b=lambda g: os.path.join(d,'x','blobs','sha256',g.split(':')[1])\n"
    "i=json.load(open(os.path.join(d,'x','index.json')))\n"
    "m=json.load(open(b(i['manifests'][0]['digest'])))\n"
    "c=json.load(open(b(m['config']['digest'])))\n"
    "for l,di in zip(m['layers'],c['rootfs']['diff_ids']): print(b(l['digest']),di)\n";

static int setup_group(void **state)
{
    const char *script = getenv("BERTH_TEST_IMAGES_SCRIPT");
    if (!script)
        script = "tests/images/build.sh";
    work = test_mkdtemp("image");
    _cleanup_free_ char *cmd = xasprintf("bash '%s' '%s' >/dev/null", script, work);
    int rc = system(cmd);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        return -1;
    _cleanup_free_ char *py = xasprintf("%s/list.py", work);
    FILE *f = fopen(py, "w");
    fputs(lister, f);
    fclose(f);
    _cleanup_free_ char *run = xasprintf("python3 '%s' '%s'", py, work);
    FILE *p = popen(run, "r");
    char line[1024];
    while (p && n_layers < 8 && fgets(line, sizeof(line), p)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            break;
        *sp = '\0';
        sp[strcspn(sp + 1, "\n") + 1] = '\0';
        layers[n_layers] = xstrdup(line);
        diff_ids[n_layers++] = xstrdup(sp + 1);
    }
    if (p)
        pclose(p);
    return n_layers == 3 ? 0 : -1;
}

static int teardown_group(void **state)
{
    test_rm_rf(work);
    free(work);
    for (size_t i = 0; i < n_layers; i++) {
        free(layers[i]);
        free(diff_ids[i]);
    }
    return 0;
}

static void apply_layer(const char *root, size_t i, const struct apply_options *opts)
{
    int fd = open(layers[i], O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct layer_reader *r = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(layer_reader_new_fd(fd, LAYER_GZIP_AUTO, &r, &err), 0);
    struct apply_result res;
    if (diff_apply(root, r, opts, &res, &err) < 0)
        fail_msg("layer %zu: %s", i, err->message);
    struct layer_reader_result lr;
    assert_int_equal(layer_reader_finish(r, &lr, &err), 0);
    assert_string_equal(lr.uncompressed_digest, diff_ids[i]);
    assert_int_equal(lr.compression, LAYER_COMPRESSION_GZIP);
    layer_reader_free(r);
    close(fd);
}

static void check_merged(const char *root)
{
    assert_null(test_read(root, "etc/motd"));
    assert_non_null(test_read(root, "etc/passwd"));
    assert_non_null(test_read(root, "data/b"));
    assert_null(test_read(root, "data/a"));
    _cleanup_free_ char *data = xasprintf("%s/data", root);
    DIR *d = opendir(data);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    assert_int_equal(n, 1);
    struct stat st;
    _cleanup_free_ char *sh = xasprintf("%s/bin/sh", root);
    assert_int_equal(lstat(sh, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void test_native(void **state)
{
    _cleanup_free_ char *root = xasprintf("%s/native", work);
    assert_int_equal(mkdir(root, 0755), 0);
    for (size_t i = 0; i < n_layers; i++)
        apply_layer(root, i, NULL);
    check_merged(root);
}

static void test_overlay(void **state)
{
    struct apply_options o = {.whiteouts = DIFF_WHITEOUT_OVERLAY};
    char *dirs[3];
    for (size_t i = 0; i < 3; i++) {
        dirs[i] = xasprintf("%s/l%zu", work, i);
        assert_int_equal(mkdir(dirs[i], 0755), 0);
        apply_layer(dirs[i], i, &o);
    }
    _cleanup_free_ char *merged = xasprintf("%s/merged", work);
    assert_int_equal(mkdir(merged, 0755), 0);
    _cleanup_free_ char *opts = xasprintf("lowerdir=%s:%s:%s", dirs[2], dirs[1], dirs[0]);
    if (mount("overlay", merged, "overlay", 0, opts) < 0) {
        for (size_t i = 0; i < 3; i++)
            free(dirs[i]);
        skip(); /* no overlayfs here */
    }
    check_merged(merged);
    assert_int_equal(umount2(merged, MNT_DETACH), 0);
    for (size_t i = 0; i < 3; i++)
        free(dirs[i]);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root\n");
        return 77;
    }
    if (access("/bin/busybox", X_OK) != 0) {
        printf("SKIP: busybox-static not installed\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native),
        cmocka_unit_test(test_overlay),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
