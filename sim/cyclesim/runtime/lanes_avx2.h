// With AVX2 and four lanes, a lane-memory access at one address is one instruction (GCC does not find these).
#pragma once
#include "lanes.h"
#ifdef __AVX2__
#include <immintrin.h>

namespace cyclesim {

template<size_t N> static inline W mread_f(const uint32_t (&m)[N][LANES], U i) {
    return (W)_mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)m[i]));
}
template<size_t N> static inline W mread(const uint32_t (&m)[N][LANES], U i) { return i < N ? mread_f(m, i) : V(0); }
template<size_t N> static inline W mread_f(const uint64_t (&m)[N][LANES], U i) {
    return (W)_mm256_loadu_si256((const __m256i *)m[i]);
}
template<size_t N> static inline W mread(const uint64_t (&m)[N][LANES], U i) { return i < N ? mread_f(m, i) : V(0); }
template<size_t N> static inline void mwrite(uint32_t (&m)[N][LANES], U i, U en, W data) {
    if (en && i < N) {
        const __m256i low = _mm256_permutevar8x32_epi32((__m256i)data, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
        _mm_storeu_si128((__m128i *)m[i], _mm256_castsi256_si128(low));
    }
}
template<size_t N> static inline void mwrite(uint64_t (&m)[N][LANES], U i, U en, W data) {
    if (en && i < N) _mm256_storeu_si256((__m256i *)m[i], (__m256i)data);
}

}  // namespace cyclesim
#endif
