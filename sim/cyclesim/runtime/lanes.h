// Several lanes (copies of the design in lockstep): a value that differs between them is a GCC vector of one
// 64-bit word per lane. The model defines LANES before this header.
#pragma once
#include "common.h"

namespace cyclesim {

typedef uint64_t W __attribute__((vector_size(8 * LANES)));
typedef int64_t S __attribute__((vector_size(8 * LANES)));
static inline W V(U x) { return W{} + x; }
static inline W V(W x) { return x; }
#define W01(x) ((W)-(x))
// AVX2 has no 64-bit arithmetic right shift: sign extension and sar by xor-and-subtract of the sign bit.
static inline W sx(W v, unsigned w) {
    if (w >= 64) return v;
    const U h = 1ull << (w - 1);
    return ((v & (h | (h - 1))) ^ h) - h;
}
static inline W sxc(W v, unsigned w) {
    if (w >= 64) return v;
    const U h = 1ull << (w - 1);
    return (v ^ h) - h;
}
static inline S ss(W v, unsigned w) { return (S)sxc(v, w); }
static inline W shl(W v, W n) { return n >= 64 ? V(0) : v << (n & 63); }
static inline W shr(W v, W n) { return n >= 64 ? V(0) : v >> (n & 63); }
static inline W sar(W v, W n) {
    const W k = n >= 63 ? V(63) : n, h = V(1ull << 63) >> k;
    return ((v >> k) ^ h) - h;
}
static inline W inb(W i, U n) { return W01(i < V(n)); }
static inline W lt01(W a, W b) { return W01(a < b); }
static inline W is0(W v) { return W01(v == 0); }
static inline W sign_fill(W v) { return (W)((S)v >> 63); }
static inline W parity(W v) { W r; for (int k = 0; k < LANES; k++) r[k] = __builtin_parityll(v[k]); return r; }
// An address that differs between lanes: one access per lane.
template<class T, size_t N> static inline W mread(const T (&m)[N], W i) {
    W r; for (int k = 0; k < LANES; k++) r[k] = i[k] < N ? m[i[k]] : 0; return r;
}
template<class T, size_t N> static inline W mread_f(const T (&m)[N], W i) {
    W r; for (int k = 0; k < LANES; k++) r[k] = m[i[k]]; return r;
}
// Memories whose contents differ between lanes hold each lane's word side by side: m[address][lane].
template<class T, size_t N> static inline W mread(const T (&m)[N][LANES], U i) {
    W r; for (int k = 0; k < LANES; k++) r[k] = i < N ? m[i][k] : 0; return r;
}
template<class T, size_t N> static inline W mread_f(const T (&m)[N][LANES], U i) {
    W r; for (int k = 0; k < LANES; k++) r[k] = m[i][k]; return r;
}
template<class T, size_t N> static inline W mread(const T (&m)[N][LANES], W i) {
    W r; for (int k = 0; k < LANES; k++) r[k] = i[k] < N ? m[i[k]][k] : 0; return r;
}
template<class T, size_t N> static inline W mread_f(const T (&m)[N][LANES], W i) {
    W r; for (int k = 0; k < LANES; k++) r[k] = m[i[k]][k]; return r;
}
template<class T, size_t N> static inline void mwrite(T (&m)[N][LANES], U i, U en, W data) {
    if (en && i < N)
        for (int k = 0; k < LANES; k++) m[i][k] = (T)data[k];
}
template<class T, size_t N> static inline void mwrite(T (&m)[N][LANES], W i, W en, W data) {
    for (int k = 0; k < LANES; k++)
        if (en[k] && i[k] < N) m[i[k]][k] = (T)data[k];
}
template<class T, size_t N> static inline void mwrite_bits(T (&m)[N][LANES], W i, W en, W data) {
    for (int k = 0; k < LANES; k++)
        if (en[k] && i[k] < N) m[i[k]][k] = (T)((m[i[k]][k] & ~en[k]) | (data[k] & en[k]));
}
template<class T, size_t N> static inline void mset(T (&m)[N][LANES], size_t i, U v) {
    for (int k = 0; k < LANES; k++) m[i][k] = (T)v;
}

}  // namespace cyclesim
