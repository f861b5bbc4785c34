// Values over 64 bits: N words, least significant first. A word is a plain U, or a lane vector W when the value
// differs between lanes (wide_lanes.h); the templates here serve both. As every value, a wide one is held with
// its bits above its width 0: the generated code cuts a result that can be wider with `trim`.
// Tests give 0 or 1 in the word type (lt01, is0), so they mix with the narrow values' U01 / W01.
#pragma once
#include "common.h"

namespace cyclesim {

template<class T, unsigned N> struct Big { T w[N]; };

// The narrow word `v` as a wide value (its other words 0).
template<unsigned N, class T> static inline Big<T, N> widen(T v) { Big<T, N> r{}; r.w[0] = v; return r; }
// The low M words.
template<unsigned M, class T, unsigned N> static inline Big<T, M> low(const Big<T, N> &a) {
    static_assert(M <= N, "low words of a narrower value");
    Big<T, M> r; for (unsigned j = 0; j < M; j++) r.w[j] = a.w[j]; return r;
}
// Bits from `BITS` up cleared (a result that can be wider than its width).
template<unsigned BITS, class T, unsigned N> static inline Big<T, N> trim(Big<T, N> a) {
    static_assert(BITS > 64 * (N - 1) && BITS <= 64 * N, "width and words disagree");
    if (BITS % 64) a.w[N - 1] &= (1ull << (BITS % 64)) - 1;
    return a;
}

template<class T, unsigned N> static inline Big<T, N> operator&(const Big<T, N> &a, const Big<T, N> &b) {
    Big<T, N> r; for (unsigned j = 0; j < N; j++) r.w[j] = a.w[j] & b.w[j]; return r;
}
template<class T, unsigned N> static inline Big<T, N> operator|(const Big<T, N> &a, const Big<T, N> &b) {
    Big<T, N> r; for (unsigned j = 0; j < N; j++) r.w[j] = a.w[j] | b.w[j]; return r;
}
template<class T, unsigned N> static inline Big<T, N> operator^(const Big<T, N> &a, const Big<T, N> &b) {
    Big<T, N> r; for (unsigned j = 0; j < N; j++) r.w[j] = a.w[j] ^ b.w[j]; return r;
}
template<class T, unsigned N> static inline Big<T, N> operator~(const Big<T, N> &a) {
    Big<T, N> r; for (unsigned j = 0; j < N; j++) r.w[j] = ~a.w[j]; return r;
}
// c ? b : a, word by word: c is a narrow condition (0/1, or a lane vector of them, or of comparison masks).
template<class C, class T, unsigned N> static inline Big<T, N> sel(C c, const Big<T, N> &b, const Big<T, N> &a) {
    Big<T, N> r; for (unsigned j = 0; j < N; j++) r.w[j] = c ? b.w[j] : a.w[j]; return r;
}

template<class T, unsigned N> static inline Big<T, N> add(const Big<T, N> &a, const Big<T, N> &b) {
    Big<T, N> r; T carry{};
    for (unsigned j = 0; j < N; j++) {
        const T s = a.w[j] + b.w[j], t = s + carry;
        carry = lt01(s, a.w[j]) | lt01(t, s);
        r.w[j] = t;
    }
    return r;
}
template<class T, unsigned N> static inline Big<T, N> sub(const Big<T, N> &a, const Big<T, N> &b) {
    Big<T, N> r; T borrow{};
    for (unsigned j = 0; j < N; j++) {
        const T d = a.w[j] - b.w[j], t = d - borrow;
        borrow = lt01(a.w[j], b.w[j]) | lt01(d, borrow);
        r.w[j] = t;
    }
    return r;
}
template<class T, unsigned N> static inline Big<T, N> neg(const Big<T, N> &a) { return sub(Big<T, N>{}, a); }
// The low N words of the product (schoolbook, 64 x 64 -> 128-bit steps).
template<unsigned N> static inline Big<U, N> mul(const Big<U, N> &a, const Big<U, N> &b) {
    Big<U, N> r{};
    for (unsigned i = 0; i < N; i++) {
        U carry = 0;
        for (unsigned j = 0; i + j < N; j++) {
            const U2 t = (U2)a.w[i] * b.w[j] + r.w[i + j] + carry;
            r.w[i + j] = (U)t;
            carry = (U)(t >> 64);
        }
    }
    return r;
}

template<class T, unsigned N> static inline T is0(const Big<T, N> &a) {
    T any = a.w[0]; for (unsigned j = 1; j < N; j++) any |= a.w[j]; return is0(any);
}
template<class T, unsigned N> static inline T eq(const Big<T, N> &a, const Big<T, N> &b) { return is0(a ^ b); }
template<class T, unsigned N> static inline T ult(const Big<T, N> &a, const Big<T, N> &b) {
    T lt = lt01(a.w[0], b.w[0]);         // decided by the highest word that differs
    for (unsigned j = 1; j < N; j++) lt = is0(a.w[j] ^ b.w[j]) ? lt : lt01(a.w[j], b.w[j]);
    return lt;
}
// Signed: both operands sign-extended to all N words; flipping the sign bits makes it an unsigned comparison.
template<class T, unsigned N> static inline T slt(Big<T, N> a, Big<T, N> b) {
    a.w[N - 1] ^= 1ull << 63; b.w[N - 1] ^= 1ull << 63; return ult(a, b);
}
template<class T, unsigned N> static inline T parity(const Big<T, N> &a) {
    T x = a.w[0]; for (unsigned j = 1; j < N; j++) x ^= a.w[j]; return parity(x);
}

// A wide shift amount as a word: itself when it fits, else the largest word (a shift by that much or more is
// the same). sat_s: a signed amount, sign-extended to all N words, saturated to int64.
template<class T, unsigned N> static inline T sat_u(const Big<T, N> &b) {
    T up = b.w[1]; for (unsigned j = 2; j < N; j++) up |= b.w[j];
    return is0(up) ? b.w[0] : ~T{};
}
template<class T, unsigned N> static inline T sat_s(const Big<T, N> &b) {
    const T fill = sign_fill(b.w[0]);
    T off{}; for (unsigned j = 1; j < N; j++) off |= b.w[j] ^ fill;
    const T neg = sign_fill(b.w[N - 1]);
    const T limit = (neg & (1ull << 63)) | (~neg & ~(1ull << 63));
    return is0(off) ? b.w[0] : limit;
}

// Shifts of a value of one copy by a word amount; `fill` is what comes in from above (0, or the sign for sar).
template<unsigned N> static inline Big<U, N> shr_fill(const Big<U, N> &a, U n, U fill) {
    Big<U, N> r;
    if (n >= 64ull * N) { for (unsigned j = 0; j < N; j++) r.w[j] = fill; return r; }
    const unsigned q = (unsigned)(n / 64), s = (unsigned)(n % 64);
    for (unsigned j = 0; j < N; j++) {
        const U lo = j + q < N ? a.w[j + q] : fill, hi = j + q + 1 < N ? a.w[j + q + 1] : fill;
        r.w[j] = s ? (lo >> s) | (hi << (64 - s)) : lo;
    }
    return r;
}
template<unsigned N> static inline Big<U, N> shr(const Big<U, N> &a, U n) { return shr_fill(a, n, 0); }
template<unsigned N> static inline Big<U, N> sar(const Big<U, N> &a, U n) { return shr_fill(a, n, sign_fill(a.w[N - 1])); }
template<unsigned N> static inline Big<U, N> shl(const Big<U, N> &a, U n) {
    Big<U, N> r{};
    if (n >= 64ull * N) return r;
    const unsigned q = (unsigned)(n / 64), s = (unsigned)(n % 64);
    for (unsigned j = q; j < N; j++) {
        const U lo = j - q >= 1 ? a.w[j - q - 1] : 0, hi = a.w[j - q];
        r.w[j] = s ? (hi << s) | (lo >> (64 - s)) : hi;
    }
    return r;
}

// Memories of wide words whose contents are the same in every lane.
template<unsigned K, size_t N> static inline Big<U, K> mread(const Big<U, K> (&m)[N], U i) {
    return i < N ? m[i] : Big<U, K>{};
}
template<unsigned K, size_t N> static inline Big<U, K> mread_f(const Big<U, K> (&m)[N], U i) { return m[i]; }
template<unsigned K, size_t N> static inline void mwrite(Big<U, K> (&m)[N], U i, U en, const Big<U, K> &data) {
    if (en && i < N) m[i] = data;
}
template<unsigned K, size_t N>
static inline void mwrite_bits(Big<U, K> (&m)[N], U i, const Big<U, K> &en, const Big<U, K> &data) {
    if (i < N) m[i] = (m[i] & ~en) | (data & en);
}
template<unsigned K, size_t N> static inline void mset(Big<U, K> (&m)[N], size_t i, const Big<U, K> &v) { m[i] = v; }

}  // namespace cyclesim
