// Helpers of every generated model (sim/cyclesim): plain 64-bit words, the type of values that are the same in
// every lane. Every value is held zero-extended to 64 bits; U01 turns a comparison into 0 or 1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace cyclesim {

typedef uint64_t U;
typedef int64_t SU;
#define U01(x) ((U)(x))
static inline U sx(U v, unsigned w) { return (U)((SU)(v << (64 - w)) >> (64 - w)); }
// Sign extension of a value whose bits above w are 0 (every operand is held so): flip and subtract the sign bit.
static inline U sxc(U v, unsigned w) { return w >= 64 ? v : (v ^ (1ull << (w - 1))) - (1ull << (w - 1)); }
static inline SU ss(U v, unsigned w) { return (SU)sxc(v, w); }
static inline U shl(U v, U n) { return n >= 64 ? 0 : v << n; }
static inline U shr(U v, U n) { return n >= 64 ? 0 : v >> n; }
static inline U sar(U v, U n) { return (U)((SU)v >> (n >= 63 ? 63 : n)); }
static inline U parity(U v) { return (U)__builtin_parityll(v); }
// Word tests as 0 or 1, and a word of copies of its sign bit: what multi-word values (wide.h) are made of.
static inline U lt01(U a, U b) { return (U)(a < b); }
static inline U is0(U v) { return (U)(v == 0); }
static inline U sign_fill(U v) { return (U)((SU)v >> 63); }
// arms[i]: a case statement's selection among computed values, by its index, without jumps.
template<class T, size_t N> static inline T pick(const T (&arms)[N], U i) { return arms[i]; }
typedef unsigned __int128 U2;
// A byte of a written memory: an enum, which (unlike a char type) aliases nothing else, so that a store to it
// does not make g++ reload every value it keeps in registers. Half the cache of uint16_t words.
enum class u8 : uint8_t {};     // a 64 x 64-bit product
// Memories whose contents are the same in every lane: one word per address. A memory smaller than its address
// space is padded to it with words that stay 0 (its writes are enabled only inb() its size): reads need no check.
static inline U inb(U i, U n) { return U01(i < n); }
template<class T, size_t N> static inline U mread(const T (&m)[N], U i) { return i < N ? (U)m[i] : 0; }
template<class T, size_t N> static inline U mread_f(const T (&m)[N], U i) { return (U)m[i]; }
template<class T, size_t N> static inline void mwrite(T (&m)[N], U i, U en, U data) {
    if (en && i < N) m[i] = (T)data;
}
template<class T, size_t N> static inline void mwrite_bits(T (&m)[N], U i, U en, U data) {
    if (en && i < N) m[i] = (T)(((U)m[i] & ~en) | (data & en));
}
template<class T, size_t N> static inline void mset(T (&m)[N], size_t i, U v) { m[i] = (T)v; }

}  // namespace cyclesim
