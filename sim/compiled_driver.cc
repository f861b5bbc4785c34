// Native driver for a compiled engine: streams a whole batch through the design with no per-cycle round trip to
// Python. The design's ports follow mamhw's engine convention (x_we/x_addr/x_data to load inputs, start/done,
// y_addr/y_data to read results, counters); design_ports.h (generated) gives the sizes and the sim_* functions
// of the engine it was built with: a cyclesim model (sim/cyclesim/), possibly of several lanes, or CXXRTL.
//
// usage: driver INPUTS.bin OUTPUTS.bin
//   INPUTS.bin : int64 batch, then batch * N_IN int64 values
//   OUTPUTS.bin: per sample, N_OUT int64 outputs, then the testbench's cycle count, then each counter
// Progress goes to stderr as "progress DONE TOTAL" lines, then one line
// "stats TICKS LANE_CYCLES WALL_SECONDS CPU_SECONDS LANES" (clock edges simulated, and those times the samples
// they served); errors as one "error: ..." line, exit status 1.
//
// Every sample gets the same protocol: reset once at the start, then per sample N_IN cycles with x_we loading
// x[i] at x_addr = i, one cycle with start, cycles until done (counted), and per output row one cycle with y_addr
// (a row's value is read Y_LATENCY cycles after its address, while the next rows are addressed).
// With LANES > 1, lane k of the model runs samples k, k + LANES, ...: all lanes see the same control inputs.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <vector>

#include "design_ports.h"

static int64_t sign_extend(uint64_t raw, int bits) {
    uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
    raw &= mask;
    if (bits < 64 && (raw >> (bits - 1)) & 1) raw |= ~mask;
    return (int64_t)raw;
}

static double cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "error: usage: %s INPUTS.bin OUTPUTS.bin\n", argv[0]);
        return 1;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) { fprintf(stderr, "error: cannot open %s\n", argv[1]); return 1; }
    int64_t batch = 0;
    if (fread(&batch, sizeof batch, 1, in) != 1 || batch < 0) {
        fprintf(stderr, "error: bad input header\n");
        return 1;
    }
    std::vector<int64_t> x((size_t)batch * N_IN);
    if (fread(x.data(), sizeof(int64_t), x.size(), in) != x.size()) {
        fprintf(stderr, "error: short input file\n");
        return 1;
    }
    fclose(in);
    FILE *out = fopen(argv[2], "wb");
    if (!out) { fprintf(stderr, "error: cannot open %s\n", argv[2]); return 1; }

    const auto wall0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds();
    sim_reset();
    int64_t ticks = 2, lane_cycles = 0;

    const size_t width = N_OUT + 1 + N_COUNTERS;
    std::vector<int64_t> rows((size_t)LANES * width);
    uint64_t data[LANES];
    int64_t cycles[LANES];
    auto last_report = std::chrono::steady_clock::now();
    for (int64_t s0 = 0; s0 < batch; s0 += LANES) {
        const int live = batch - s0 < LANES ? (int)(batch - s0) : LANES;   // spare lanes repeat the last sample
        const int64_t t0 = ticks;
        sim_set_x_we(1);
        for (int64_t i = 0; i < N_IN; i++) {
            sim_set_x_addr((uint64_t)i);
            for (int k = 0; k < LANES; k++)
                data[k] = (uint64_t)x[(s0 + (k < live ? k : live - 1)) * N_IN + i] & X_MASK;
            sim_set_x_data(data);
            sim_tick();
        }
        sim_set_x_we(0);
        sim_set_start(1);
        sim_tick();
        sim_set_start(0);
        ticks += N_IN + 1;
        for (int k = 0; k < LANES; k++) cycles[k] = -1;
        for (int64_t n = 0;; n++) {
            bool all = true;
            for (int k = 0; k < LANES; k++) {
                if (cycles[k] < 0) {
                    if (sim_done(k)) cycles[k] = n;
                    else all = false;
                }
            }
            if (all) break;
            if (n >= TIMEOUT) {
                int k = 0;
                while (cycles[k] >= 0) k++;
                fprintf(stderr, "error: no done within %lld cycles on sample %lld\n", (long long)n,
                        (long long)(s0 + (k < live ? k : live - 1)));
                return 1;
            }
            sim_tick();
            ticks++;
        }
        for (int64_t t = 0; t < N_OUT + Y_LATENCY - 1; t++) {     // row t addressed, row t - Y_LATENCY + 1 out
            sim_set_y_addr((uint64_t)(t < N_OUT ? t : N_OUT - 1));
            sim_tick();
            ticks++;
            const int64_t r = t - (Y_LATENCY - 1);
            if (r < 0) continue;
            for (int k = 0; k < live; k++) rows[k * width + r] = sign_extend(sim_y_data(k), Y_BITS);
        }
        for (int k = 0; k < live; k++) {
            rows[k * width + N_OUT] = cycles[k];
            sim_counters(k, &rows[k * width + N_OUT + 1]);
        }
        fwrite(rows.data(), sizeof(int64_t), (size_t)live * width, out);
        lane_cycles += (ticks - t0) * live;
        auto now = std::chrono::steady_clock::now();
        if (now - last_report > std::chrono::milliseconds(500) || s0 + live == batch) {
            fprintf(stderr, "progress %lld %lld\n", (long long)(s0 + live), (long long)batch);
            fflush(stderr);
            last_report = now;
        }
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    fprintf(stderr, "stats %lld %lld %.6f %.6f %d\n", (long long)ticks, (long long)lane_cycles, wall,
            cpu_seconds() - cpu0, (int)LANES);
    if (fclose(out) != 0) { fprintf(stderr, "error: cannot write %s\n", argv[2]); return 1; }
    return 0;
}
