"""``Upsample``: resizing by ``F.interpolate`` (nearest, linear, bilinear, ...); ``PixelShuffle`` and
``PixelUnshuffle``: moving channels into space and back."""

from convgrad import _checks as checks
from convgrad.nn import functional as F
from convgrad.nn.modules.module import Module, _FunctionalLayer


class Upsample(Module):
    """Resizes (N, C, *spatial) to ``size`` or by ``scale_factor`` with interpolation ``mode``."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if scale_factor is not None and not checks.is_number(scale_factor) and not (
                isinstance(scale_factor, tuple) and all(map(checks.is_number, scale_factor))):
            raise checks.error("Upsample", "scale_factor to be a number, a tuple of numbers or None",
                               f"scale_factor={checks.show(scale_factor)}", TypeError)
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(_FunctionalLayer):
    """(*, C r^2, H, W) -> (*, C, H r, W r), r = upscale_factor (ESPCN's sub-pixel convolution)."""

    _repr_fields = ("upscale_factor",)
    _function = staticmethod(F.pixel_shuffle)

    def __init__(self, upscale_factor):
        super().__init__(upscale_factor)


class PixelUnshuffle(_FunctionalLayer):
    """(*, C, H r, W r) -> (*, C r^2, H, W), r = downscale_factor; undoes ``PixelShuffle``."""

    _repr_fields = ("downscale_factor",)
    _function = staticmethod(F.pixel_unshuffle)

    def __init__(self, downscale_factor):
        super().__init__(downscale_factor)
