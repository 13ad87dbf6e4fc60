/* Qualifiers for code shared by the CPU and CUDA back ends.
 *
 * Every kernel header is valid C17 and C++17 (nvcc compiles .cu files as C++);
 * tests/CMakeLists.txt compiles each one alone both ways. XS_DEVICE marks a
 * function for both devices: static inline on the CPU, __host__ __device__
 * inline under nvcc. XS_GPU_CODE is 1 only while compiling device code, for
 * the rare body that must branch. Kernels never allocate, print, do I/O or fail.
 */
#ifndef XS_DEVICE_H
#define XS_DEVICE_H

#include <math.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define XS_DEVICE static __host__ __device__ inline
#define XS_RESTRICT __restrict__
#else
#define XS_DEVICE static inline
#define XS_RESTRICT __restrict__
#endif

/* The alignment of a type, in both languages (C17 spells it _Alignof, C++
 * alignof); for the layout asserts of kernels/xs_layout.h. */
#ifdef __cplusplus
#define XS_ALIGNOF(T) alignof(T)
#else
#define XS_ALIGNOF(T) _Alignof(T)
#endif

/* A struct aligned to n bytes (16: one vector load per 16 bytes on a GPU).
 * The GNU attribute, which gcc, clang and nvcc take in C and C++ alike
 * (_Alignas is C only, alignas C++ only). */
#define XS_ALIGN(n) __attribute__((aligned(n)))

/* A function off the hot path (motion blur's transforms and triangles at a
 * ray's time): kept out of line on the CPU, so the loops of frames that never
 * call it stay small enough to inline what they do call; like XS_DEVICE on a
 * GPU, whose kernels for still frames compile it out. */
#if defined(__CUDACC__)
#define XS_COLD XS_DEVICE
#else
#define XS_COLD static __attribute__((noinline, cold, unused))
#endif

#if defined(__CUDA_ARCH__)
#define XS_GPU_CODE 1
#else
#define XS_GPU_CODE 0
#endif

#endif
