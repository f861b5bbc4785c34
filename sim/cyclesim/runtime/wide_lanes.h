// Wide values that differ between lanes (Big<W, N>): what has no vector form runs lane by lane.
#pragma once
#include "lanes.h"
#include "wide.h"

namespace cyclesim {

template<unsigned N> static inline Big<U, N> lane_of(const Big<W, N> &a, int k) {
    Big<U, N> r; for (unsigned j = 0; j < N; j++) r.w[j] = a.w[j][k]; return r;
}
template<unsigned N> static inline void set_lane(Big<W, N> &a, int k, const Big<U, N> &v) {
    for (unsigned j = 0; j < N; j++) a.w[j][k] = v.w[j];
}
// The same wide value in every lane.
template<unsigned N> static inline Big<W, N> vb(const Big<U, N> &a) {
    Big<W, N> r; for (unsigned j = 0; j < N; j++) r.w[j] = V(a.w[j]); return r;
}
static inline W vw(U n) { return V(n); }
static inline W vw(W n) { return n; }

template<unsigned N> static inline Big<W, N> mul(const Big<W, N> &a, const Big<W, N> &b) {
    Big<W, N> r; for (int k = 0; k < LANES; k++) set_lane(r, k, mul(lane_of(a, k), lane_of(b, k))); return r;
}
#define CYCLESIM_LANE_SHIFT(name) \
    template<unsigned N, class A> static inline Big<W, N> name(const Big<W, N> &a, A amount) { \
        const W n = vw(amount); Big<W, N> r; \
        for (int k = 0; k < LANES; k++) set_lane(r, k, name(lane_of(a, k), n[k])); \
        return r; \
    }
CYCLESIM_LANE_SHIFT(shl)
CYCLESIM_LANE_SHIFT(shr)
CYCLESIM_LANE_SHIFT(sar)
#undef CYCLESIM_LANE_SHIFT

// Wide memories whose contents are the same in every lane, at addresses that differ between lanes.
template<unsigned K, size_t N> static inline Big<W, K> mread(const Big<U, K> (&m)[N], W i) {
    Big<W, K> r; for (int k = 0; k < LANES; k++) set_lane(r, k, mread(m, (U)i[k])); return r;
}
template<unsigned K, size_t N> static inline Big<W, K> mread_f(const Big<U, K> (&m)[N], W i) {
    Big<W, K> r; for (int k = 0; k < LANES; k++) set_lane(r, k, m[i[k]]); return r;
}
// Wide memories whose contents differ between lanes: m[address][lane].
template<unsigned K, size_t N> static inline Big<W, K> mread(const Big<U, K> (&m)[N][LANES], U i) {
    Big<W, K> r; for (int k = 0; k < LANES; k++) set_lane(r, k, i < N ? m[i][k] : Big<U, K>{}); return r;
}
template<unsigned K, size_t N> static inline Big<W, K> mread_f(const Big<U, K> (&m)[N][LANES], U i) {
    Big<W, K> r; for (int k = 0; k < LANES; k++) set_lane(r, k, m[i][k]); return r;
}
template<unsigned K, size_t N> static inline Big<W, K> mread(const Big<U, K> (&m)[N][LANES], W i) {
    Big<W, K> r; for (int k = 0; k < LANES; k++) set_lane(r, k, i[k] < N ? m[i[k]][k] : Big<U, K>{}); return r;
}
template<unsigned K, size_t N> static inline Big<W, K> mread_f(const Big<U, K> (&m)[N][LANES], W i) {
    Big<W, K> r; for (int k = 0; k < LANES; k++) set_lane(r, k, m[i[k]][k]); return r;
}
template<unsigned K, size_t N>
static inline void mwrite(Big<U, K> (&m)[N][LANES], U i, U en, const Big<W, K> &data) {
    if (en && i < N)
        for (int k = 0; k < LANES; k++) m[i][k] = lane_of(data, k);
}
template<unsigned K, size_t N>
static inline void mwrite(Big<U, K> (&m)[N][LANES], W i, W en, const Big<W, K> &data) {
    for (int k = 0; k < LANES; k++)
        if (en[k] && i[k] < N) m[i[k]][k] = lane_of(data, k);
}
template<unsigned K, size_t N>
static inline void mwrite_bits(Big<U, K> (&m)[N][LANES], W i, const Big<W, K> &en, const Big<W, K> &data) {
    for (int k = 0; k < LANES; k++)
        if (i[k] < N) m[i[k]][k] = (m[i[k]][k] & ~lane_of(en, k)) | (lane_of(data, k) & lane_of(en, k));
}
template<unsigned K, size_t N> static inline void mset(Big<U, K> (&m)[N][LANES], size_t i, const Big<U, K> &v) {
    for (int k = 0; k < LANES; k++) m[i][k] = v;
}

}  // namespace cyclesim
