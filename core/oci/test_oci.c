/* core/oci: specs byte-compared with what ctr stores (testdata/), user lookups, option parsing. */
#include "core/oci/opts.h"
#include "lib/base/alloc.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char *read_golden(const char *name)
{
    const char *dir = getenv("BERTH_OCI_TESTDATA");
    assert_non_null(dir);
    _cleanup_free_ char *path = xasprintf("%s/%s.json", dir, name);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getline(&text, &cap, f);
    fclose(f);
    assert_true(n > 0);
    if (text[n - 1] == '\n')
        text[n - 1] = '\0';
    return text;
}

static void assert_spec(const struct oci_run_options *o, const char *golden)
{
    struct oci_spec *s = NULL;
    struct berth_error *err = NULL;
    if (oci_spec_for_run(o, &s, &err) < 0)
        fail_msg("%s: %s", golden, err->message);
    _cleanup_free_ char *json = oci_spec_to_json(s, NULL);
    _cleanup_free_ char *want = read_golden(golden);
    if (strcmp(json, want) != 0) {
        fprintf(stderr, "%s differs:\n got: %s\nwant: %s\n", golden, json, want);
        fail_msg("%s differs from the golden spec", golden);
    }
    oci_spec_free(s);
}

/* The busybox test image's config: Env PATH, Cmd ["sh"]. */
static struct oci_image_config busybox;

static struct oci_run_options image_options(const char *id)
{
    return (struct oci_run_options){
        .namespace_name = "default", .id = id, .image = &busybox, .root_fd = -1, .cpu_quota = -1};
}

/* ctr run's --cpu-shares default */
static struct oci_run_options run_options(const char *id)
{
    struct oci_run_options o = image_options(id);
    o.cpu_shares = 1024;
    return o;
}

static void test_default(void **state)
{
    struct oci_run_options o = image_options("default");
    assert_spec(&o, "default");
    char *args[] = {"echo", "hello", "world"};
    o = image_options("cmd");
    o.args = args;
    o.n_args = 3;
    assert_spec(&o, "cmd");
}

static void test_env_tty_mounts(void **state)
{
    char path[] = "/tmp/berth-oci-env.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "A=1\nB=2\n", 8), 8);
    close(fd);
    char *env[] = {"FOO=bar", "PATH=/x"};
    struct oci_run_options o = image_options("env");
    o.env = env;
    o.n_env = 2;
    o.env_file = path;
    assert_spec(&o, "env");
    unlink(path);

    o = image_options("tty");
    o.tty = true;
    o.cwd = "/tmp";
    assert_spec(&o, "tty");

    char *mounts[] = {"type=bind,src=/tmp,dst=/host,options=rbind:ro",
                      "type=tmpfs,source=tmpfs,destination=/run,options=nosuid"};
    o = image_options("mounts");
    o.mounts = mounts;
    o.n_mounts = 2;
    assert_spec(&o, "mounts");

    o = image_options("nethost");
    o.net_host = true;
    o.host_hostname = "golden-host";
    assert_spec(&o, "nethost");
}

static void test_seccomp(void **state)
{
#if defined(__x86_64__)
    struct oci_run_options o = image_options("seccomp");
    o.seccomp = true;
    assert_spec(&o, "seccomp");
    char *caps[] = {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"};
    o = image_options("seccomp_admin");
    o.seccomp = true;
    o.cap_add = caps;
    o.n_cap_add = 3;
    assert_spec(&o, "seccomp_admin");
#else
    skip(); /* the golden profiles were made on amd64 */
#endif
}

static void test_run_flags(void **state)
{
    char *args[] = {"sh"};
    struct oci_run_options o = {.namespace_name = "default",
                                .id = "rootfs",
                                .rootfs = "/tmp/somerootfs",
                                .root_fd = -1,
                                .cpu_quota = -1,
                                .args = args,
                                .n_args = 1};
    assert_spec(&o, "rootfs");

    char *run_args[] = {"true"};
    char *annotations[] = {"a=b"};
    char *labels[] = {"l1=v1", "l2"};
    o = run_options("readonly");
    o.args = run_args;
    o.n_args = 1;
    o.read_only = true;
    o.annotations = annotations;
    o.n_annotations = 1;
    o.labels = labels;
    o.n_labels = 2;
    assert_spec(&o, "readonly");

    o = run_options("resources");
    o.args = run_args;
    o.n_args = 1;
    o.memory_limit = 67108864;
    o.cpus = 1.5;
    o.cpu_shares = 512;
    assert_spec(&o, "resources");

    char *add[] = {"CAP_SYS_ADMIN"}, *drop[] = {"CAP_KILL"};
    char *ns[] = {"network:/proc/1/ns/net"};
    o = run_options("cfs");
    o.args = run_args;
    o.n_args = 1;
    o.cpu_quota = 20000;
    o.cpu_period = 100000;
    o.has_cgroup = true;
    o.cgroup = "/mygroup";
    o.with_ns = ns;
    o.n_with_ns = 1;
    o.allow_new_privs = true;
    o.cap_add = add;
    o.n_cap_add = 1;
    o.cap_drop = drop;
    o.n_cap_drop = 1;
    assert_spec(&o, "cfs");

    o = run_options("propagation");
    o.args = run_args;
    o.n_args = 1;
    o.rootfs_propagation = "shared";
    assert_spec(&o, "propagation");
}

/* json-c text of a document without linux.devices (host devices differ from run to run). */
static char *without_devices(const char *json)
{
    struct json_object *doc = json_tokener_parse(json);
    assert_non_null(doc);
    struct json_object *linux_ = NULL;
    assert_true(json_object_object_get_ex(doc, "linux", &linux_));
    json_object_object_del(linux_, "devices");
    char *out = xstrdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
    json_object_put(doc);
    return out;
}

static void test_privileged(void **state)
{
    char *run_args[] = {"true"};
    struct oci_run_options o = run_options("privileged");
    o.args = run_args;
    o.n_args = 1;
    o.privileged = true;
    struct oci_spec *s = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(oci_spec_for_run(&o, &s, &err), 0);
    /* the golden was made by a root ctr with a full effective set; compare with ours */
    struct oci_strv caps = {0};
    assert_int_equal(oci_current_capabilities(&caps, &err), 0);
    _cleanup_free_ char *golden = read_golden("privileged");
    bool same_caps = caps.n >= 40;
    oci_strv_clear(&caps);
    if (!same_caps) {
        oci_spec_free(s);
        skip();
    }
    _cleanup_free_ char *json = oci_spec_to_json(s, NULL);
    _cleanup_free_ char *got = without_devices(json);
    _cleanup_free_ char *want = without_devices(golden);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "privileged differs:\n got: %s\nwant: %s\n", got, want);
        fail_msg("privileged differs from the golden spec");
    }
    /* /dev/null is among the host devices, as containerd lists it */
    bool null_found = false;
    for (size_t i = 0; i < s->linux_.n_devices; i++)
        if (strcmp(s->linux_.devices[i].path, "/dev/null") == 0)
            null_found = s->linux_.devices[i].major == 1 && s->linux_.devices[i].minor == 3 &&
                         strcmp(s->linux_.devices[i].type, "c") == 0;
    assert_true(null_found);
    oci_spec_free(s);
}

/* ---- users, in a rootfs of our own ---- */

static char rootfs[] = "/tmp/berth-oci-root.XXXXXX";

static void write_file(const char *rel, const char *text)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", rootfs, rel);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int open_root(void)
{
    int fd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static struct oci_spec *user_spec(const char *user, int root_fd, struct berth_error **err)
{
    struct oci_run_options o = image_options("u");
    o.root_fd = root_fd;
    o.user = user;
    struct oci_spec *s = NULL;
    return oci_spec_for_run(&o, &s, err) == 0 ? s : NULL;
}

static void assert_user(const char *user, uint32_t uid, uint32_t gid, const uint32_t *gids,
                        size_t n_gids)
{
    int fd = open_root();
    struct berth_error *err = NULL;
    struct oci_spec *s = user_spec(user, fd, &err);
    close(fd);
    if (!s)
        fail_msg("--user %s: %s", user, err->message);
    assert_int_equal(s->process.uid, uid);
    assert_int_equal(s->process.gid, gid);
    assert_int_equal(s->process.n_additional_gids, n_gids);
    for (size_t i = 0; i < n_gids; i++)
        assert_int_equal(s->process.additional_gids[i], gids[i]);
    oci_spec_free(s);
}

static void test_users(void **state)
{
    assert_non_null(mkdtemp(rootfs));
    _cleanup_free_ char *etc = xasprintf("%s/etc", rootfs);
    assert_int_equal(mkdir(etc, 0755), 0);
    write_file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                             "  app:x:1000:1000::/home/app:/bin/sh  \n"
                             "\n"
                             "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    write_file("etc/group", "root:x:0:\napp:x:1000:\nwheel:x:10:app,other\n"
                            "audio:x:29:other,app\nnogroup:x:65534:\n");
    assert_user("app", 1000, 1000, (uint32_t[]){1000, 10, 29}, 3);
    assert_user("1000", 1000, 1000, (uint32_t[]){1000, 10, 29}, 3);
    assert_user("4242", 4242, 0, (uint32_t[]){0}, 1); /* unknown uid: gid 0 */
    assert_user("nobody:wheel", 65534, 10, (uint32_t[]){10}, 1);
    assert_user("5:7", 5, 7, (uint32_t[]){7}, 1);
    /* the user string as given is the name looked up for groups: "app:audio" lists none */
    assert_user("app:audio", 1000, 29, (uint32_t[]){29}, 1);
    /* the image config's user path: root gets no extra groups */
    assert_user("root", 0, 0, (uint32_t[]){0}, 1);

    int fd = open_root();
    struct berth_error *err = NULL;
    assert_null(user_spec("ghost", fd, &err));
    assert_non_null(strstr(err->message, "no users found"));
    err_free(err);
    err = NULL;
    assert_null(user_spec("app:ghosts", fd, &err));
    assert_non_null(strstr(err->message, "no groups found"));
    err_free(err);
    err = NULL;
    assert_null(user_spec("a:b:c", fd, &err));
    assert_non_null(strstr(err->message, "invalid USER value a:b:c"));
    err_free(err);
    err = NULL;

    /* an absolute link resolves inside the rootfs (to a missing file), never to the host's */
    _cleanup_free_ char *passwd = xasprintf("%s/etc/passwd", rootfs);
    unlink(passwd);
    assert_int_equal(symlink("/../../../../etc/hostname", passwd), 0);
    assert_null(user_spec("root", fd, &err));
    assert_non_null(strstr(err->message, "/etc/passwd"));
    err_free(err);
    err = NULL;
    struct oci_spec *s = user_spec("0", fd, &err); /* numeric: no passwd is fine */
    assert_non_null(s);
    assert_int_equal(s->process.uid, 0);
    oci_spec_free(s);
    close(fd);

    _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", rootfs);
    assert_int_equal(system(cmd), 0);
}

static void test_parsing(void **state)
{
    struct oci_mount m;
    struct berth_error *err = NULL;
    assert_int_equal(oci_parse_mount("type=bind,\"src=/a,b\",dst=/c,options=rbind:ro", &m, &err),
                     0);
    assert_string_equal(m.source, "/a,b");
    assert_string_equal(m.destination, "/c");
    assert_int_equal(m.options.n, 2);
    oci_mount_clear(&m);
    assert_int_equal(oci_parse_mount("type=bind,bogus=1", &m, &err), -1);
    assert_non_null(strstr(err->message, "mount option \"bogus\" not supported"));
    err_free(err);
    err = NULL;
    assert_int_equal(oci_parse_mount("type", &m, &err), -1);
    assert_non_null(strstr(err->message, "invalid mount specification: expected key=val"));
    err_free(err);
    err = NULL;
    assert_int_equal(oci_parse_mount("src=a\"b", &m, &err), -1);
    err_free(err);
    err = NULL;

    /* a bare KEY removes it; Go's HTML-safe escaping in annotations */
    struct oci_spec *s = oci_spec_new_default("ns", "id");
    char *env[] = {"A=1", "B=2", "A", "B=3"};
    oci_with_env(s, env, 4);
    assert_int_equal(s->process.env.n, 1);
    assert_string_equal(s->process.env.v[0], "B=3");
    oci_with_annotation(s, "z", "<&>");
    oci_with_annotation(s, "a", "1");
    _cleanup_free_ char *json = oci_spec_to_json(s, NULL);
    assert_non_null(strstr(json, "\"annotations\":{\"a\":\"1\",\"z\":\"\\u003c\\u0026\\u003e\"}"));
    assert_non_null(strstr(json, "\"cgroupsPath\":\"/ns/id\""));
    oci_spec_free(s);

    char *bad_caps[] = {"SYS_ADMIN"};
    struct oci_run_options o = image_options("x");
    o.cap_add = bad_caps;
    o.n_cap_add = 1;
    assert_int_equal(oci_spec_for_run(&o, &s, &err), -1);
    assert_non_null(strstr(err->message, "capabilities must be specified with 'CAP_' prefix"));
    err_free(err);
    err = NULL;
    char *bad_ns[] = {"net:/x"};
    o = image_options("x");
    o.with_ns = bad_ns;
    o.n_with_ns = 1;
    assert_int_equal(oci_spec_for_run(&o, &s, &err), -1);
    err_free(err);
    err = NULL;
    o = image_options("x");
    o.cpus = 1;
    o.cpu_period = 1000;
    assert_int_equal(oci_spec_for_run(&o, &s, &err), -1);
    assert_non_null(strstr(err->message, "cpus and quota/period should be used separately"));
    err_free(err);
}

static void test_image_config(void **state)
{
    struct json_object *doc = json_tokener_parse(
        "{\"config\":{\"Env\":[\"PATH=/bin\",\"X=1\"],\"Entrypoint\":[\"/init\"],"
        "\"Cmd\":[\"-v\"],\"WorkingDir\":\"/srv\",\"User\":\"7\"}}");
    struct oci_image_config c;
    struct berth_error *err = NULL;
    assert_int_equal(oci_image_config_from_json(doc, &c, &err), 0);
    json_object_put(doc);
    char *env[] = {"X=2", "Y=3"};
    struct oci_run_options o = image_options("i");
    o.image = &c;
    o.env = env;
    o.n_env = 2;
    struct oci_spec *s = NULL;
    assert_int_equal(oci_spec_for_run(&o, &s, &err), 0);
    assert_int_equal(s->process.env.n, 3);
    assert_string_equal(s->process.env.v[1], "X=2");
    assert_int_equal(s->process.args.n, 2);
    assert_string_equal(s->process.args.v[0], "/init");
    assert_string_equal(s->process.cwd, "/srv");
    assert_int_equal(s->process.uid, 7);
    oci_spec_free(s);
    oci_image_config_clear(&c);

    doc = json_tokener_parse("{\"config\":{\"Env\":\"PATH\"}}");
    assert_int_equal(oci_image_config_from_json(doc, &c, &err), -1);
    err_free(err);
    json_object_put(doc);
}

int main(void)
{
    oci_strv_push(&busybox.env,
                  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    oci_strv_push(&busybox.cmd, "sh");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default),    cmocka_unit_test(test_env_tty_mounts),
        cmocka_unit_test(test_seccomp),    cmocka_unit_test(test_run_flags),
        cmocka_unit_test(test_privileged), cmocka_unit_test(test_users),
        cmocka_unit_test(test_parsing),    cmocka_unit_test(test_image_config),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    oci_image_config_clear(&busybox);
    return rc;
}
