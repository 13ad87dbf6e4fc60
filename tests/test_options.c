/* `xisuan render` flag parsing: defaults, every range check, and messages
 * that name the flag, the value and the reason. */
#include "scheduler/xs_options.h"
#include "test_util.h"

static xs_result parse(xs_options *o, xs_err *e, int argc, const char *const *argv)
{
    xs_options_defaults(o);
    xs_err_clear(e);
    return xs_options_parse(argc, (char **)argv, o, e);
}

static void test_defaults(void)
{
    xs_options o;
    xs_err e;
    CHECK(parse(&o, &e, 0, NULL) == XS_OK);
    CHECK(o.render.width == 512 && o.render.height == 512 && o.render.spp == 16 && o.render.tile == 64);
    CHECK(o.compression == XS_EXR_ZIP && o.zip_level == 4 && o.prefetch == 2);
    CHECK(strcmp(o.job, "cornell") == 0 && strcmp(o.name, "cornell") == 0);
    CHECK(o.frame_count == 1);
    CHECK(o.given == 0);
}

/* A scene path names the job and frames after its base name; the flags the
 * command line gave win over the manifest, the others come from it. */
static void test_frame_lists(void)
{
    int f[XS_MAX_FRAMES], n = 0;
    xs_err e;
    CHECK(xs_frames_parse("--frames", "1001-1010x3,1100,5-6", f, &n, &e) == XS_OK);
    CHECK(n == 7 && f[0] == 1001 && f[1] == 1004 && f[3] == 1010 && f[4] == 1100 && f[6] == 6);
    CHECK(xs_frames_parse("--frames", "0-9999", f, &n, &e) == XS_OK && n == 10000);
}

static void test_scene_path_and_manifest(void)
{
    xs_options o;
    xs_err e;
    const char *av[] = {"/data/shots/Shot 010.v2.tar.zst", "--spp", "5"};
    CHECK(parse(&o, &e, 3, av) == XS_OK);
    CHECK_MSG(strcmp(o.job, "Shot_010.v2") == 0, "job '%s'", o.job);
    CHECK(strcmp(o.name, "Shot_010.v2") == 0);
    xs_manifest m;
    xs_manifest_defaults(&m);
    m.width = 320, m.height = 240, m.spp = 99, m.tile = 16, m.max_bounces = 3;
    m.has_frames = true, m.frame_first = 4, m.frame_last = 6;
    xs_options_apply_manifest(&o, &m);
    CHECK(o.render.width == 320 && o.render.height == 240 && o.render.spp == 5 && o.render.tile == 16 && o.render.max_bounces == 3);
    CHECK(o.frame_count == 3 && o.frames[0] == 4 && o.frames[2] == 6);
    const char *av2[] = {"--scene", "x.glb", "--resolution", "10x10", "--frames", "1"};
    CHECK(parse(&o, &e, 6, av2) == XS_OK);
    xs_options_apply_manifest(&o, &m);
    CHECK(o.render.width == 10 && o.render.height == 10 && o.frame_count == 1 && o.frames[0] == 1 && o.render.spp == 99);
}

static void test_all_flags(void)
{
    xs_options o;
    xs_err e;
    const char *av[] = {"--resolution", "320x200", "--spp=3", "--tile", "16", "--seed",
                        "4294967295", "--frames", "5-9", "--out", "/tmp/x", "--job", "j-1",
                        "--name", "shot_a.v2", "--compression", "piz", "--zip-level", "9",
                        "--threads", "3", "--max-bounces", "0", "--prefetch", "4",
                        "--kernel", "empty", "--no-preview", "--bvh", "binned"};
    CHECK(parse(&o, &e, (int)(sizeof av / sizeof av[0]), av) == XS_OK);
    CHECK(o.render.width == 320 && o.render.height == 200 && o.render.spp == 3 && o.render.tile == 16);
    CHECK(o.render.seed == 4294967295u && o.frame_count == 5 && o.frames[0] == 5 && o.frames[4] == 9);
    CHECK(strcmp(o.out_dir, "/tmp/x") == 0 && strcmp(o.job, "j-1") == 0);
    CHECK(strcmp(o.name, "shot_a.v2") == 0 && o.compression == XS_EXR_PIZ && o.zip_level == 9);
    CHECK(o.render.threads == 3 && o.render.max_bounces == 0 && o.prefetch == 4);
    CHECK(o.kernel == XS_KERNEL_EMPTY && !o.preview && o.render.bvh == XS_BVH_BINNED);
}

/* Each bad value: rejected, and the message holds the given fragments. */
static void test_rejections(void)
{
    static const struct {
        const char *argv[2];
        int argc;
        const char *frag1, *frag2;
    } bad[] = {
        {{"--spp", "0"}, 2, "--spp", "got 0"},
        {{"--spp", "2000000"}, 2, "--spp", "[1, 1048576]"},
        {{"--spp", "12abc"}, 2, "--spp", "expected an integer"},
        {{"--tile", "4"}, 2, "--tile", "[8, 4096]"},
        {{"--tile", "5000"}, 2, "--tile", "got 5000"},
        {{"--resolution", "0x10"}, 2, "width", "got 0"},
        {{"--resolution", "64x40000"}, 2, "height", "got 40000"},
        {{"--resolution", "640"}, 2, "--resolution", "WIDTHxHEIGHT"},
        {{"--width", "-3"}, 2, "--width", "got -3"},
        {{"--seed", "-1"}, 2, "--seed", "got -1"},
        {{"--frames", "9-2"}, 2, "--frames", "before"},
        {{"--frames", "10000"}, 2, "--frames", "[0, 9999]"},
        {{"--frames", "1-10x0"}, 2, "--frames", "step must be a positive integer"},
        {{"--frames", "1-5,3"}, 2, "--frames", "frame 3 is listed twice"},
        {{"--frames", "1,,2"}, 2, "--frames", "expected F, A-B or A-BxS"},
        {{"--frames", "1-4y2"}, 2, "--frames", "'1-4y2' is not F, A-B or A-BxS"},
        {{"--compression", "b44"}, 2, "--compression", "b44"},
        {{"--zip-level", "10"}, 2, "--zip-level", "[0, 9]"},
        {{"--bvh", "fast"}, 2, "--bvh", "must be auto, binned or clustered, got 'fast'"},
        {{"--job", "../evil"}, 2, "--job", "must not start with '.'"},
        {{"--job", "a/b"}, 2, "--job", "only letters"},
        {{"--name", ""}, 2, "--name", "1 to"},
        {{"--bogus", "1"}, 2, "unknown flag", "--bogus"},
        {{"--spp", NULL}, 1, "--spp", "missing value"},
        {{"stray", NULL}, 1, "--scene: 'stray' is neither a built-in scene", "nor a .tar.zst"},
        {{"a.glb", "b.glb"}, 2, "unexpected argument 'b.glb'", "one scene only"},
        {{"--pkg-max-ratio", "0"}, 2, "--pkg-max-ratio", "got 0"},
        {{"--kernel", "fast"}, 2, "--kernel", "fast"},
        {{"--prefetch", "0"}, 2, "--prefetch", "got 0"},
        {{"--resolution", "32768x32768"}, 2, "--resolution", "2^28"},
        {{"--writers", "0"}, 2, "--writers", "[1, 256]"},
        {{"--gpu-slots", "385"}, 2, "--gpu-slots", "[1, 384]"},
        {{"--prefetch", "513"}, 2, "--prefetch", "[1, 512]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        xs_options o;
        xs_err e;
        xs_result r = parse(&o, &e, bad[i].argc, bad[i].argv);
        CHECK_MSG(r == XS_ERR_INVALID, "case %zu (%s) accepted", i, bad[i].argv[0]);
        CHECK_MSG(strstr(e.msg, bad[i].frag1) && strstr(e.msg, bad[i].frag2),
                  "case %zu: message '%s' lacks '%s' or '%s'", i, e.msg, bad[i].frag1,
                  bad[i].frag2);
    }
}

/* Job files are strict JSON: duplicate members, text after the value and NUL
 * characters (a name cut short) are refused, each with its reason. */
static void test_job_file_strict(void)
{
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"schema\": 1, \"package\": \"a.glb\", \"package\": \"b.glb\"}", "member 'package' given twice"},
        {"{\"schema\": 1, \"package\": \"a.glb\", \"render\": {\"spp\": 2, \"spp\": 8}}",
         "render: member 'spp' given twice"},
        {"{\"schema\": 1, \"package\": \"a.glb\"} {\"x\": 1}", "text after the JSON value"},
        {"{\"schema\": 1, \"package\": \"a.glb\"} garbage", "text after the JSON value"},
        {"{\"schema\": 1, \"package\": \"a.glb\", \"job\": \"shot\\u0000x\"}", "NUL character"},
        {"{\"schema\": 1, \"package\": \"a.glb\", \"limits\": {\"image_mpix\": 0}}",
         "limits.image_mpix: must be a positive integer"},
        {"{\"schema\": 1, \"package\": \"a.glb\", \"limits\": {\"pixels\": 3}}", "limits.pixels: unknown field"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        static xs_options o;
        xs_options_defaults(&o);
        xs_err e;
        xs_err_clear(&e);
        xs_result r = xs_options_apply_job(&o, "job.json", "", bad[i].json, strlen(bad[i].json), &e);
        CHECK_MSG(r == XS_ERR_INVALID, "case %zu accepted", i);
        CHECK_MSG(strstr(e.msg, bad[i].want) && strncmp(e.msg, "job.json", 8) == 0,
                  "case %zu: '%s' lacks '%s'", i, e.msg, bad[i].want);
    }
    /* a literal NUL byte inside the text */
    static const char nul[] = "{\"schema\": 1, \"package\": \"a.glb\", \"name\": \"a\0b\"}";
    static xs_options o;
    xs_options_defaults(&o);
    xs_err e;
    CHECK(xs_options_apply_job(&o, "job.json", "", nul, sizeof nul - 1, &e) == XS_ERR_INVALID);
    CHECK_MSG(strstr(e.msg, "NUL character"), "%s", e.msg);
}

/* The budgets: flags and job-file keys set the same limits, in their units. */
/* Animation settings from flags, a manifest and a job file, with the same
 * precedence as the others; they enter the job's key. */
static void test_animation(void)
{
    xs_options o;
    xs_err e;
    const char *av[] = {"x.glb", "--fps", "25", "--time-offset", "-1.5", "--animations", "walk,2", "--shutter", "0.5",
                        "--motion-steps", "5"};
    CHECK(parse(&o, &e, (int)(sizeof av / sizeof av[0]), av) == XS_OK);
    CHECK(o.render.fps == 25.0 && o.render.time_offset == -1.5 && strcmp(o.render.animations, "walk,2") == 0);
    CHECK(o.render.shutter == 0.5f && o.render.motion_steps == 5);
    char k1[512], k2[512];
    xs_render_settings_key(&o.render, k1, sizeof k1);
    o.render.shutter = 0.25f;
    xs_render_settings_key(&o.render, k2, sizeof k2);
    CHECK_MSG(strcmp(k1, k2) != 0 && strstr(k1, "fps=25 toff=-1.5 anim=walk,2 shutter=0.5 steps=5"), "%s", k1);
    /* a manifest fills what the flags left open */
    const char *mj = "{\"schema\": 1, \"scene\": \"a.glb\", \"animation\": {\"fps\": 30, \"time_offset\": 2, "
                     "\"play\": [\"run\", 1], \"shutter\": 1, \"motion_steps\": 9}}";
    xs_manifest m;
    CHECK_MSG(xs_manifest_parse("manifest.json", mj, strlen(mj), &m, &e) == XS_OK, "%s", e.msg);
    CHECK(m.has_fps && m.fps == 30.0 && m.has_play && strcmp(m.play, "run,1") == 0 && m.motion_steps == 9);
    const char *av2[] = {"x.glb", "--shutter", "0"};
    CHECK(parse(&o, &e, 3, av2) == XS_OK);
    xs_options_apply_manifest(&o, &m);
    CHECK(o.render.fps == 30.0 && o.render.time_offset == 2.0 && strcmp(o.render.animations, "run,1") == 0);
    CHECK(o.render.shutter == 0.0f && o.render.motion_steps == 9); /* the flag wins */
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"schema\": 1, \"scene\": \"a.glb\", \"animation\": {\"shutter\": 2}}", "animation.shutter: must be a number in [0, 1]"},
        {"{\"schema\": 1, \"scene\": \"a.glb\", \"animation\": {\"fps\": 0}}", "animation.fps: must be a number in (0, 1000]"},
        {"{\"schema\": 1, \"scene\": \"a.glb\", \"animation\": {\"play\": \"sprint\"}}", "animation.play: must be"},
        {"{\"schema\": 1, \"scene\": \"a.glb\", \"animation\": {\"speed\": 2}}", "animation.speed: unknown field"},
        {"{\"schema\": 1, \"scene\": \"a.glb\", \"animation\": {\"motion_steps\": 1}}", "animation.motion_steps: must be an integer in [2, 64]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        xs_manifest mb;
        xs_err_clear(&e);
        CHECK_MSG(xs_manifest_parse("manifest.json", bad[i].json, strlen(bad[i].json), &mb, &e) == XS_ERR_INVALID &&
                      strstr(e.msg, bad[i].want), "case %zu: '%s'", i, e.msg);
    }
    /* a job file: as given (over the manifest), and checked by the same rules */
    static xs_options oj;
    xs_options_defaults(&oj);
    const char *job = "{\"schema\": 1, \"package\": \"a.glb\", \"animation\": {\"fps\": 12, \"shutter\": 0.75}}";
    CHECK_MSG(xs_options_apply_job(&oj, "job.json", "", job, strlen(job), &e) == XS_OK, "%s", e.msg);
    CHECK(oj.render.fps == 12.0 && oj.render.shutter == 0.75f && (oj.given & XS_GIVEN_FPS) && (oj.given & XS_GIVEN_SHUTTER));
    xs_options_apply_manifest(&oj, &m);
    CHECK(oj.render.fps == 12.0 && oj.render.shutter == 0.75f && oj.render.motion_steps == 9);
    const char *badjob = "{\"schema\": 1, \"package\": \"a.glb\", \"animation\": {\"shutter\": -1}}";
    xs_options_defaults(&oj);
    CHECK(xs_options_apply_job(&oj, "job.json", "", badjob, strlen(badjob), &e) == XS_ERR_INVALID &&
          strstr(e.msg, "job.json: animation.shutter"));
}

static void test_limits(void)
{
    static xs_options o;
    xs_options_defaults(&o);
    CHECK(o.limits.gltf.max_image_pixels == 1ull << 27 && o.limits.max_env_pixels == 1ull << 27);
    CHECK(o.limits.gltf.max_texture_bytes == 8ull << 30 && o.limits.gltf.max_triangles == 1ull << 28);
    CHECK(o.limits.gltf.max_nodes == 1ull << 24 && o.limits.gltf.max_instances == 1ull << 24);
    xs_err e;
    const char *argv[] = {"--max-image-mpix", "300", "--max-texture-mib=64", "--max-env-mpix", "2",
                          "--max-mtris", "5", "--max-nodes", "1000", "--max-instances", "700"};
    CHECK_MSG(parse(&o, &e, 11, argv) == XS_OK, "%s", e.msg);
    CHECK(o.limits.gltf.max_image_pixels == 300000000ull && o.limits.gltf.max_texture_bytes == 64ull << 20);
    CHECK(o.limits.max_env_pixels == 2000000ull && o.limits.gltf.max_triangles == 5000000ull);
    CHECK(o.limits.gltf.max_nodes == 1000 && o.limits.gltf.max_instances == 700);
    xs_options_defaults(&o);
    const char *json = "{\"schema\": 1, \"package\": \"a.glb\", \"limits\": {\"image_mpix\": 300, "
                       "\"texture_mib\": 64, \"env_mpix\": 2, \"mtriangles\": 5, \"nodes\": 1000, "
                       "\"instances\": 700, \"package_entry_mib\": 3, \"package_total_mib\": 9, "
                       "\"package_ratio\": 50}}";
    CHECK_MSG(xs_options_apply_job(&o, "job.json", "", json, strlen(json), &e) == XS_OK, "%s", e.msg);
    CHECK(o.limits.gltf.max_image_pixels == 300000000ull && o.limits.gltf.max_texture_bytes == 64ull << 20);
    CHECK(o.limits.max_env_pixels == 2000000ull && o.limits.gltf.max_triangles == 5000000ull);
    CHECK(o.limits.gltf.max_nodes == 1000 && o.limits.gltf.max_instances == 700);
    CHECK(o.limits.pkg.max_entry_bytes == 3ull << 20 && o.limits.pkg.max_total_bytes == 9ull << 20);
    CHECK(o.limits.pkg.max_ratio == 50.0);
    const char *zero[] = {"--max-nodes", "0"};
    CHECK(parse(&o, &e, 2, zero) == XS_ERR_INVALID && strstr(e.msg, "--max-nodes"));
}

/* Messages quote input; control characters in it come out escaped, so a
 * hostile name cannot forge lines or move the cursor on a terminal. */
static void test_escaped_messages(void)
{
    xs_err e;
    xs_err_set(&e, XS_ERR_INVALID, "entry '%s': bad", "a\nxisuan: job x completed\x1b[2J\r\x7f\xc2\x9b|\xe4\xb8\xad");
    CHECK_MSG(strcmp(e.msg, "entry 'a\\x0axisuan: job x completed\\x1b[2J\\x0d\\x7f\\x9b|\xe4\xb8\xad': bad") == 0,
              "got '%s'", e.msg);
    for (const char *p = e.msg; *p; ++p)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* A job with a GPU worker gets 256-pixel tiles, unless a tile was chosen (a
 * flag, a job file or the manifest); --writers and --gpu-slots take auto or
 * a count. */
static void test_gpu_defaults(void)
{
    xs_options o;
    xs_err e;
    CHECK(parse(&o, &e, 0, NULL) == XS_OK);
    CHECK(o.writers == 0 && o.render.gpu_slots == 0); /* auto */
    xs_options_gpu_defaults(&o, false);
    CHECK(o.render.tile == 64);
    xs_options_gpu_defaults(&o, true);
    CHECK(o.render.tile == XS_GPU_DEFAULT_TILE && XS_GPU_DEFAULT_TILE == 256);
    const char *av[] = {"--tile", "32", "--writers", "6", "--gpu-slots", "12"};
    CHECK(parse(&o, &e, 6, av) == XS_OK);
    xs_options_gpu_defaults(&o, true);
    CHECK(o.render.tile == 32 && o.writers == 6 && o.render.gpu_slots == 12);
    const char *av2[] = {"--writers", "auto", "--gpu-slots", "auto"};
    CHECK(parse(&o, &e, 4, av2) == XS_OK);
    CHECK(o.writers == 0 && o.render.gpu_slots == 0);
    xs_manifest m;
    xs_manifest_defaults(&m);
    m.tile = 48;
    xs_options_apply_manifest(&o, &m);
    xs_options_gpu_defaults(&o, true);
    CHECK_MSG(o.render.tile == 48, "the manifest's tile lost to the GPU default: %d", o.render.tile);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"defaults", test_defaults},
        {"all_flags", test_all_flags},
        {"rejections", test_rejections},
        {"scene_path_and_manifest", test_scene_path_and_manifest},
        {"frame_lists", test_frame_lists},
        {"job_file_strict", test_job_file_strict},
        {"limits", test_limits},
        {"escaped_messages", test_escaped_messages},
        {"gpu_defaults", test_gpu_defaults},
        {"animation", test_animation},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
