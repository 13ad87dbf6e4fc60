/* The layout of every struct that crosses between the host and the GPU:
 * the scene's arrays (uploaded once as bytes), the scene view and the tile
 * parameters (kernel parameters), the counters (copied back). Host code and
 * device code are compiled by different compilers (gcc for C17, nvcc for
 * CUDA); a field whose size or alignment differed between them would shift
 * every field after it and the GPU would read garbage, silently. These
 * asserts pin sizes, alignments and offsets, and every compilation that
 * includes this header checks them: the CPU kernel (kernels/cpu/kernel_cpu.c,
 * C17), the CUDA back end (render/backend_cuda.c, C17) and the CUDA kernels
 * (kernels/cuda/kernel.cu, nvcc's host and device passes). A deliberate
 * layout change updates the figures here. The launch group's own asserts
 * sit beside it in kernels/cuda/kernel_cuda.h.
 */
#ifndef XS_LAYOUT_H
#define XS_LAYOUT_H

#include <assert.h>
#include <stddef.h>

#include "kernels/xs_types.h"

/* pointers and 64-bit counters: the same on the x86-64 and aarch64 hosts
 * nvcc supports and on the GPU */
static_assert(sizeof(void *) == 8, "a 64-bit host");
static_assert(sizeof(float) == 4 && sizeof(uint32_t) == 4 && sizeof(uint64_t) == 8, "fixed-width types");

static_assert(sizeof(xs_vec3) == 12, "xs_vec3: 12 bytes");
static_assert(XS_ALIGNOF(xs_vec3) == 4, "xs_vec3: 4-byte aligned");
static_assert(offsetof(xs_vec3, x) == 0, "xs_vec3.x");
static_assert(offsetof(xs_vec3, y) == 4, "xs_vec3.y");
static_assert(offsetof(xs_vec3, z) == 8, "xs_vec3.z");

static_assert(sizeof(xs_tri_attr) == 80, "xs_tri_attr: 80 bytes");
static_assert(XS_ALIGNOF(xs_tri_attr) == 4, "xs_tri_attr: 4-byte aligned");
static_assert(offsetof(xs_tri_attr, uv) == 0, "xs_tri_attr.uv");
static_assert(offsetof(xs_tri_attr, n) == 48, "xs_tri_attr.n");
static_assert(offsetof(xs_tri_attr, t) == 60, "xs_tri_attr.t");
static_assert(offsetof(xs_tri_attr, material) == 72, "xs_tri_attr.material");
static_assert(offsetof(xs_tri_attr, flags) == 76, "xs_tri_attr.flags");

static_assert(sizeof(xs_tri) == 36, "xs_tri: 36 bytes");
static_assert(XS_ALIGNOF(xs_tri) == 4, "xs_tri: 4-byte aligned");
static_assert(offsetof(xs_tri, v0) == 0, "xs_tri.v0");
static_assert(offsetof(xs_tri, e1) == 12, "xs_tri.e1");
static_assert(offsetof(xs_tri, e2) == 24, "xs_tri.e2");

static_assert(sizeof(xs_bvh_node) == 32, "xs_bvh_node: 32 bytes");
static_assert(XS_ALIGNOF(xs_bvh_node) == 4, "xs_bvh_node: 4-byte aligned");
static_assert(offsetof(xs_bvh_node, bmin) == 0, "xs_bvh_node.bmin");
static_assert(offsetof(xs_bvh_node, first) == 12, "xs_bvh_node.first");
static_assert(offsetof(xs_bvh_node, bmax) == 16, "xs_bvh_node.bmax");
static_assert(offsetof(xs_bvh_node, count) == 28, "xs_bvh_node.count");

static_assert(sizeof(xs_wtri) == 48, "xs_wtri: 48 bytes");
static_assert(XS_ALIGNOF(xs_wtri) == 16, "xs_wtri: 16-byte aligned");
static_assert(offsetof(xs_wtri, v0) == 0, "xs_wtri.v0");
static_assert(offsetof(xs_wtri, flags) == 12, "xs_wtri.flags");
static_assert(offsetof(xs_wtri, v1) == 16, "xs_wtri.v1");
static_assert(offsetof(xs_wtri, world_inst) == 28, "xs_wtri.world_inst");
static_assert(offsetof(xs_wtri, v2) == 32, "xs_wtri.v2");
static_assert(offsetof(xs_wtri, material) == 44, "xs_wtri.material");

static_assert(sizeof(xs_wnode) == 64, "xs_wnode: 64 bytes");
static_assert(XS_ALIGNOF(xs_wnode) == 16, "xs_wnode: 16-byte aligned");
static_assert(offsetof(xs_wnode, origin) == 0, "xs_wnode.origin");
static_assert(offsetof(xs_wnode, exp) == 12, "xs_wnode.exp");
static_assert(offsetof(xs_wnode, child) == 16, "xs_wnode.child");
static_assert(offsetof(xs_wnode, qlo) == 32, "xs_wnode.qlo");
static_assert(offsetof(xs_wnode, qhi) == 44, "xs_wnode.qhi");
static_assert(offsetof(xs_wnode, meta) == 56, "xs_wnode.meta");

static_assert(sizeof(xs_mesh) == 28, "xs_mesh: 28 bytes");
static_assert(XS_ALIGNOF(xs_mesh) == 4, "xs_mesh: 4-byte aligned");
static_assert(offsetof(xs_mesh, root) == 0, "xs_mesh.root");
static_assert(offsetof(xs_mesh, tri_first) == 4, "xs_mesh.tri_first");
static_assert(offsetof(xs_mesh, tri_count) == 8, "xs_mesh.tri_count");
static_assert(offsetof(xs_mesh, motion) == 12, "xs_mesh.motion");
static_assert(offsetof(xs_mesh, seg_nodes) == 16, "xs_mesh.seg_nodes");
static_assert(offsetof(xs_mesh, seg_stride) == 20, "xs_mesh.seg_stride");
static_assert(offsetof(xs_mesh, wroot) == 24, "xs_mesh.wroot");

static_assert(sizeof(xs_instance) == 112, "xs_instance: 112 bytes");
static_assert(XS_ALIGNOF(xs_instance) == 4, "xs_instance: 4-byte aligned");
static_assert(offsetof(xs_instance, xf) == 0, "xs_instance.xf");
static_assert(offsetof(xs_instance, inv) == 48, "xs_instance.inv");
static_assert(offsetof(xs_instance, mesh) == 96, "xs_instance.mesh");
static_assert(offsetof(xs_instance, flags) == 100, "xs_instance.flags");
static_assert(offsetof(xs_instance, motion) == 104, "xs_instance.motion");
static_assert(offsetof(xs_instance, pad_) == 108, "xs_instance.pad_");

static_assert(sizeof(xs_motion_xf) == 64, "xs_motion_xf: 64 bytes");
static_assert(XS_ALIGNOF(xs_motion_xf) == 4, "xs_motion_xf: 4-byte aligned");
static_assert(offsetof(xs_motion_xf, q) == 0, "xs_motion_xf.q");
static_assert(offsetof(xs_motion_xf, t) == 16, "xs_motion_xf.t");
static_assert(offsetof(xs_motion_xf, s) == 28, "xs_motion_xf.s");

static_assert(sizeof(xs_texture) == 16, "xs_texture: 16 bytes");
static_assert(XS_ALIGNOF(xs_texture) == 4, "xs_texture: 4-byte aligned");
static_assert(offsetof(xs_texture, width) == 0, "xs_texture.width");
static_assert(offsetof(xs_texture, height) == 4, "xs_texture.height");
static_assert(offsetof(xs_texture, level0) == 8, "xs_texture.level0");
static_assert(offsetof(xs_texture, flags) == 12, "xs_texture.flags");
static_assert(offsetof(xs_texture, levels) == 14, "xs_texture.levels");

static_assert(sizeof(xs_tex_level) == 16, "xs_tex_level: 16 bytes");
static_assert(XS_ALIGNOF(xs_tex_level) == 4, "xs_tex_level: 4-byte aligned");
static_assert(offsetof(xs_tex_level, width) == 0, "xs_tex_level.width");
static_assert(offsetof(xs_tex_level, height) == 4, "xs_tex_level.height");
static_assert(offsetof(xs_tex_level, pages_x) == 8, "xs_tex_level.pages_x");
static_assert(offsetof(xs_tex_level, first_page) == 12, "xs_tex_level.first_page");

static_assert(sizeof(xs_texslot) == 32, "xs_texslot: 32 bytes");
static_assert(XS_ALIGNOF(xs_texslot) == 4, "xs_texslot: 4-byte aligned");
static_assert(offsetof(xs_texslot, tex) == 0, "xs_texslot.tex");
static_assert(offsetof(xs_texslot, texcoord) == 4, "xs_texslot.texcoord");
static_assert(offsetof(xs_texslot, m) == 8, "xs_texslot.m");

static_assert(sizeof(xs_material) == 232, "xs_material: 232 bytes");
static_assert(XS_ALIGNOF(xs_material) == 4, "xs_material: 4-byte aligned");
static_assert(offsetof(xs_material, albedo) == 0, "xs_material.albedo");
static_assert(offsetof(xs_material, emission) == 12, "xs_material.emission");
static_assert(offsetof(xs_material, flags) == 24, "xs_material.flags");
static_assert(offsetof(xs_material, alpha) == 28, "xs_material.alpha");
static_assert(offsetof(xs_material, alpha_cutoff) == 32, "xs_material.alpha_cutoff");
static_assert(offsetof(xs_material, base_tex) == 36, "xs_material.base_tex");
static_assert(offsetof(xs_material, emit_tex) == 68, "xs_material.emit_tex");
static_assert(offsetof(xs_material, mr_tex) == 100, "xs_material.mr_tex");
static_assert(offsetof(xs_material, normal_tex) == 132, "xs_material.normal_tex");
static_assert(offsetof(xs_material, trans_tex) == 164, "xs_material.trans_tex");
static_assert(offsetof(xs_material, normal_scale) == 196, "xs_material.normal_scale");
static_assert(offsetof(xs_material, metallic) == 200, "xs_material.metallic");
static_assert(offsetof(xs_material, roughness) == 204, "xs_material.roughness");
static_assert(offsetof(xs_material, transmission) == 208, "xs_material.transmission");
static_assert(offsetof(xs_material, ior) == 212, "xs_material.ior");
static_assert(offsetof(xs_material, sigma_a) == 216, "xs_material.sigma_a");
static_assert(offsetof(xs_material, pad_) == 228, "xs_material.pad_");

static_assert(sizeof(xs_light) == 64, "xs_light: 64 bytes");
static_assert(XS_ALIGNOF(xs_light) == 4, "xs_light: 4-byte aligned");
static_assert(offsetof(xs_light, type) == 0, "xs_light.type");
static_assert(offsetof(xs_light, instance) == 4, "xs_light.instance");
static_assert(offsetof(xs_light, tri) == 8, "xs_light.tri");
static_assert(offsetof(xs_light, pad_) == 12, "xs_light.pad_");
static_assert(offsetof(xs_light, pos) == 16, "xs_light.pos");
static_assert(offsetof(xs_light, dir) == 28, "xs_light.dir");
static_assert(offsetof(xs_light, intensity) == 40, "xs_light.intensity");
static_assert(offsetof(xs_light, range) == 52, "xs_light.range");
static_assert(offsetof(xs_light, cos_inner) == 56, "xs_light.cos_inner");
static_assert(offsetof(xs_light, cos_outer) == 60, "xs_light.cos_outer");

static_assert(sizeof(xs_camera) == 56, "xs_camera: 56 bytes");
static_assert(XS_ALIGNOF(xs_camera) == 4, "xs_camera: 4-byte aligned");
static_assert(offsetof(xs_camera, pos) == 0, "xs_camera.pos");
static_assert(offsetof(xs_camera, right) == 12, "xs_camera.right");
static_assert(offsetof(xs_camera, up) == 24, "xs_camera.up");
static_assert(offsetof(xs_camera, fwd) == 36, "xs_camera.fwd");
static_assert(offsetof(xs_camera, tan_half_fovy) == 48, "xs_camera.tan_half_fovy");
static_assert(offsetof(xs_camera, aspect) == 52, "xs_camera.aspect");

static_assert(sizeof(xs_scene_view) == 376, "xs_scene_view: 376 bytes");
static_assert(XS_ALIGNOF(xs_scene_view) == 8, "xs_scene_view: 8-byte aligned");
static_assert(offsetof(xs_scene_view, tris) == 0, "xs_scene_view.tris");
static_assert(offsetof(xs_scene_view, attrs) == 8, "xs_scene_view.attrs");
static_assert(offsetof(xs_scene_view, wnodes) == 16, "xs_scene_view.wnodes");
static_assert(offsetof(xs_scene_view, meshes) == 24, "xs_scene_view.meshes");
static_assert(offsetof(xs_scene_view, instances) == 32, "xs_scene_view.instances");
static_assert(offsetof(xs_scene_view, tex_objects) == 40, "xs_scene_view.tex_objects");
static_assert(offsetof(xs_scene_view, tri_count) == 48, "xs_scene_view.tri_count");
static_assert(offsetof(xs_scene_view, wnode_count) == 52, "xs_scene_view.wnode_count");
static_assert(offsetof(xs_scene_view, instance_count) == 56, "xs_scene_view.instance_count");
static_assert(offsetof(xs_scene_view, wroot) == 60, "xs_scene_view.wroot");
static_assert(offsetof(xs_scene_view, materials) == 64, "xs_scene_view.materials");
static_assert(offsetof(xs_scene_view, textures) == 72, "xs_scene_view.textures");
static_assert(offsetof(xs_scene_view, tex_pool) == 80, "xs_scene_view.tex_pool");
static_assert(offsetof(xs_scene_view, srgb_to_linear) == 88, "xs_scene_view.srgb_to_linear");
static_assert(offsetof(xs_scene_view, lights) == 96, "xs_scene_view.lights");
static_assert(offsetof(xs_scene_view, light_cdf) == 104, "xs_scene_view.light_cdf");
static_assert(offsetof(xs_scene_view, light_pmf) == 112, "xs_scene_view.light_pmf");
static_assert(offsetof(xs_scene_view, light_count) == 120, "xs_scene_view.light_count");
static_assert(offsetof(xs_scene_view, flags) == 124, "xs_scene_view.flags");
static_assert(offsetof(xs_scene_view, inst_light_base) == 128, "xs_scene_view.inst_light_base");
static_assert(offsetof(xs_scene_view, tri_light) == 136, "xs_scene_view.tri_light");
static_assert(offsetof(xs_scene_view, env_light) == 144, "xs_scene_view.env_light");
static_assert(offsetof(xs_scene_view, background) == 148, "xs_scene_view.background");
static_assert(offsetof(xs_scene_view, env) == 160, "xs_scene_view.env");
static_assert(offsetof(xs_scene_view, env_w) == 168, "xs_scene_view.env_w");
static_assert(offsetof(xs_scene_view, env_h) == 172, "xs_scene_view.env_h");
static_assert(offsetof(xs_scene_view, env_row_cdf) == 176, "xs_scene_view.env_row_cdf");
static_assert(offsetof(xs_scene_view, env_col_cdf) == 184, "xs_scene_view.env_col_cdf");
static_assert(offsetof(xs_scene_view, env_func_int) == 192, "xs_scene_view.env_func_int");
static_assert(offsetof(xs_scene_view, ggx_tables) == 200, "xs_scene_view.ggx_tables");
static_assert(offsetof(xs_scene_view, filter_icdf) == 208, "xs_scene_view.filter_icdf");
static_assert(offsetof(xs_scene_view, world_radius) == 216, "xs_scene_view.world_radius");
static_assert(offsetof(xs_scene_view, ray_eps) == 220, "xs_scene_view.ray_eps");
static_assert(offsetof(xs_scene_view, camera) == 224, "xs_scene_view.camera");
static_assert(offsetof(xs_scene_view, motion_steps) == 280, "xs_scene_view.motion_steps");
static_assert(offsetof(xs_scene_view, camera_motion) == 284, "xs_scene_view.camera_motion");
static_assert(offsetof(xs_scene_view, motion_xf) == 288, "xs_scene_view.motion_xf");
static_assert(offsetof(xs_scene_view, motion_tris) == 296, "xs_scene_view.motion_tris");
static_assert(offsetof(xs_scene_view, motion_nodes) == 304, "xs_scene_view.motion_nodes");
static_assert(offsetof(xs_scene_view, nodes) == 312, "xs_scene_view.nodes");
static_assert(offsetof(xs_scene_view, tex_levels) == 320, "xs_scene_view.tex_levels");
static_assert(offsetof(xs_scene_view, tex_page) == 328, "xs_scene_view.tex_page");
static_assert(offsetof(xs_scene_view, tex_request) == 336, "xs_scene_view.tex_request");
static_assert(offsetof(xs_scene_view, tex_asked) == 344, "xs_scene_view.tex_asked");
static_assert(offsetof(xs_scene_view, tex_fetch) == 352, "xs_scene_view.tex_fetch");
static_assert(offsetof(xs_scene_view, tex_ctx) == 360, "xs_scene_view.tex_ctx");
static_assert(offsetof(xs_scene_view, tex_page_count) == 368, "xs_scene_view.tex_page_count");

static_assert(sizeof(xs_tile_params) == 56, "xs_tile_params: 56 bytes");
static_assert(XS_ALIGNOF(xs_tile_params) == 4, "xs_tile_params: 4-byte aligned");
static_assert(offsetof(xs_tile_params, frame_width) == 0, "xs_tile_params.frame_width");
static_assert(offsetof(xs_tile_params, frame_height) == 4, "xs_tile_params.frame_height");
static_assert(offsetof(xs_tile_params, x0) == 8, "xs_tile_params.x0");
static_assert(offsetof(xs_tile_params, y0) == 12, "xs_tile_params.y0");
static_assert(offsetof(xs_tile_params, width) == 16, "xs_tile_params.width");
static_assert(offsetof(xs_tile_params, height) == 20, "xs_tile_params.height");
static_assert(offsetof(xs_tile_params, spp) == 24, "xs_tile_params.spp");
static_assert(offsetof(xs_tile_params, max_bounces) == 28, "xs_tile_params.max_bounces");
static_assert(offsetof(xs_tile_params, rr_start) == 32, "xs_tile_params.rr_start");
static_assert(offsetof(xs_tile_params, seed) == 36, "xs_tile_params.seed");
static_assert(offsetof(xs_tile_params, frame) == 40, "xs_tile_params.frame");
static_assert(offsetof(xs_tile_params, clamp) == 44, "xs_tile_params.clamp");
static_assert(offsetof(xs_tile_params, mis) == 48, "xs_tile_params.mis");
static_assert(offsetof(xs_tile_params, aovs) == 52, "xs_tile_params.aovs");

static_assert(sizeof(xs_counters) == 64, "xs_counters: 64 bytes");
static_assert(XS_ALIGNOF(xs_counters) == 8, "xs_counters: 8-byte aligned");
static_assert(offsetof(xs_counters, camera_rays) == 0, "xs_counters.camera_rays");
static_assert(offsetof(xs_counters, bounce_rays) == 8, "xs_counters.bounce_rays");
static_assert(offsetof(xs_counters, shadow_rays) == 16, "xs_counters.shadow_rays");
static_assert(offsetof(xs_counters, node_visits) == 24, "xs_counters.node_visits");
static_assert(offsetof(xs_counters, tri_tests) == 32, "xs_counters.tri_tests");
static_assert(offsetof(xs_counters, shade_events) == 40, "xs_counters.shade_events");
static_assert(offsetof(xs_counters, inst_visits) == 48, "xs_counters.inst_visits");
static_assert(offsetof(xs_counters, nonfinite) == 56, "xs_counters.nonfinite");

#endif
