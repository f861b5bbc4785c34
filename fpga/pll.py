"""PLL settings for the engine clock: the iCE40 SB_PLL40 and the ECP5 EHXPLLL, searched exhaustively.

Each solver returns the reachable output frequency closest to the request, with the divider settings that give it,
inside the ranges of the vendors' data sheets (the same ranges icepll and ecppll use).
"""

from dataclasses import dataclass

from ..golden import ContractError

__all__ = ["PllSetting", "ice40_pll", "ecp5_pll", "solve_pll"]


@dataclass(frozen=True)
class PllSetting:
    family: str
    f_in: float                 # Hz
    f_out: float                # Hz, what the PLL really makes
    params: dict                # the primitive's parameters

    @property
    def mhz(self):
        return self.f_out / 1e6


def ice40_pll(f_in, f_want):
    """SB_PLL40 (SIMPLE feedback): f_out = f_in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)."""
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f_out = f_vco / (1 << divq)
                if not 16e6 <= f_out <= 275e6:
                    continue
                if best is None or abs(f_out - f_want) < abs(best[0] - f_want):
                    best = (f_out, divr, divf, divq, f_pfd)
    if best is None:
        raise ContractError(f"no iCE40 PLL setting makes {f_want / 1e6:g} MHz from {f_in / 1e6:g} MHz")
    f_out, divr, divf, divq, f_pfd = best
    # The loop filter range follows the phase detector frequency (iCE40 sysCLOCK PLL design guide).
    filt = next(i for i, edge in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, float("inf")), 1) if f_pfd < edge)
    return PllSetting("ice40", f_in, f_out, dict(DIVR=divr, DIVF=divf, DIVQ=divq, FILTER_RANGE=filt))


def ecp5_pll(f_in, f_want):
    """EHXPLLL (CLKOP feedback): f_out = f_in * CLKFB_DIV / CLKI_DIV, VCO = f_out * CLKOP_DIV."""
    best = None
    for clki in range(1, 129):
        f_pfd = f_in / clki
        if f_pfd < 3.125e6:
            break
        for clkfb in range(1, 129):
            f_out = f_pfd * clkfb
            if not 3.125e6 <= f_out <= 400e6:
                continue
            for clkop in range(1, 129):
                if 400e6 <= f_out * clkop <= 800e6:
                    if best is None or abs(f_out - f_want) < abs(best[0] - f_want):
                        best = (f_out, clki, clkfb, clkop)
                    break
    if best is None:
        raise ContractError(f"no ECP5 PLL setting makes {f_want / 1e6:g} MHz from {f_in / 1e6:g} MHz")
    f_out, clki, clkfb, clkop = best
    return PllSetting("ecp5", f_in, f_out, dict(CLKI_DIV=clki, CLKFB_DIV=clkfb, CLKOP_DIV=clkop,
                                                CLKOP_CPHASE=max(clkop // 2 - 1, 0)))


def solve_pll(family, f_in, f_want):
    return {"ice40": ice40_pll, "ecp5": ecp5_pll}[family](f_in, f_want)
