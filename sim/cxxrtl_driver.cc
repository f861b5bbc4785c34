// Native driver for a CXXRTL-compiled engine: streams a whole batch through the design with no per-cycle
// round trip to Python. The design's ports follow mamhw's engine convention (x_we/x_addr/x_data to load
// inputs, start/done, cycles, y_addr/y_data to read results); design_ports.h (generated) gives the widths,
// sizes and the extra counters to read after each run.
//
// usage: driver INPUTS.bin OUTPUTS.bin
//   INPUTS.bin : int64 batch, then batch * N_IN int64 values
//   OUTPUTS.bin: per sample, N_OUT int64 outputs, then the testbench's cycle count, then each counter
// Progress goes to stderr as "progress DONE TOTAL" lines; errors as one "error: ..." line, exit status 1.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "top.h"
#include "design_ports.h"

static cxxrtl_design::p_top top;

static void tick() {
    top.p_clk.set<bool>(false);
    top.step();
    top.p_clk.set<bool>(true);
    top.step();
}

static int64_t sign_extend(uint64_t raw, int bits) {
    uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
    raw &= mask;
    if (bits < 64 && (raw >> (bits - 1)) & 1) raw |= ~mask;
    return (int64_t)raw;
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

    top.p_rst.set<bool>(true);
    tick();
    top.p_rst.set<bool>(false);
    tick();

    std::vector<int64_t> row(N_OUT + 1 + N_COUNTERS);
    auto last_report = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < batch; s++) {
        top.p_x__we.set<bool>(true);
        for (int64_t i = 0; i < N_IN; i++) {
            top.p_x__addr.set<uint64_t>((uint64_t)i);
            top.p_x__data.set<uint64_t>((uint64_t)x[s * N_IN + i] & X_MASK);
            tick();
        }
        top.p_x__we.set<bool>(false);
        top.p_start.set<bool>(true);
        tick();
        top.p_start.set<bool>(false);
        int64_t n = 0;
        while (!top.p_done.get<bool>()) {
            if (n >= TIMEOUT) {
                fprintf(stderr, "error: no done within %lld cycles on sample %lld\n", (long long)n, (long long)s);
                return 1;
            }
            tick();
            n++;
        }
        for (int64_t r = 0; r < N_OUT; r++) {
            top.p_y__addr.set<uint64_t>((uint64_t)r);
            tick();
            top.step();     // settle outputs that are logic of registers updated by this edge
            row[r] = sign_extend(top.p_y__data.get<uint64_t>(), Y_BITS);
        }
        row[N_OUT] = n;
        read_counters(top, &row[N_OUT + 1]);
        fwrite(row.data(), sizeof(int64_t), row.size(), out);
        auto now = std::chrono::steady_clock::now();
        if (now - last_report > std::chrono::milliseconds(500) || s + 1 == batch) {
            fprintf(stderr, "progress %lld %lld\n", (long long)(s + 1), (long long)batch);
            fflush(stderr);
            last_report = now;
        }
    }
    if (fclose(out) != 0) { fprintf(stderr, "error: cannot write %s\n", argv[2]); return 1; }
    return 0;
}
