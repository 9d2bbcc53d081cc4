"""The Starlette app of ``convgrad serve``: the page (``static/``), the JSON API of docs/serve.md, and the
validation in front of it.

Every bad request is answered with a 4xx and ``{"error": "<op>: expected ..., got ..."}``: 400 malformed
JSON or a missing field, 413 a body over 1 MB (counted while it streams), 415 another content type, 422 a
value of the wrong shape, type or range or a bad PNG, 404 an unknown route, layer, or a channel/position
outside the layer.

Concurrency: the endpoints are async so that bodies are read on the event loop with a size cap; the model
work runs in Starlette's thread pool, one request at a time under ``Served.lock``. The lock keeps requests
from seeing each other's hooks, eval/train switches and ``requires_grad`` changes (saliency freezes the
parameters while it runs); grad mode itself is per thread in convgrad. On 2 cores a LeNet-5 forward takes
about a millisecond, so serialising the model costs little and keeps the answers exact."""

import io
import json
import os

import numpy as np

from convgrad.serve import inspect
from convgrad.serve.inspect import IMAGE_SIZE, InspectError, short

MAX_BODY = 1 << 20
DRAIN_LIMIT = 16 << 20  # an over-size body up to this is read and dropped before the 413 (see _body)
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


# -- reading and checking requests ---------------------------------------------------------------------
async def _body(request, op, types):
    """The request body (at most MAX_BODY bytes) and its content type, one of ``types``. A body over the
    cap is read to its end and dropped when it is at most DRAIN_LIMIT bytes, so that the client, still
    sending, gets to read the 413 (closing on unread data would reset the connection under it); a larger
    one is refused at once and the connection closed."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in types:
        raise ApiError(415, f"{op}: expected Content-Type {' or '.join(types)}, got {short(ctype or 'none')}")
    length = request.headers.get("content-length")
    if length is not None and not length.strip().isdigit():
        raise ApiError(400, f"{op}: expected a Content-Length of digits, got {short(length)}")
    too_big = f"{op}: expected a body of at most {MAX_BODY} bytes, got "
    if length is not None and int(length) > DRAIN_LIMIT:
        raise ApiError(413, too_big + length.strip())
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT:
            raise ApiError(413, too_big + "more")
    if size > MAX_BODY:
        raise ApiError(413, too_big + str(size))
    return b"".join(chunks), ctype


async def _json(request, op, types=("application/json",)):
    """(the JSON object of the body, None) or, for a PNG body, (None, the PNG's bytes)."""
    body, ctype = await _body(request, op, types)
    if ctype == "image/png":
        return None, body
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise ApiError(400, f"{op}: expected a JSON body, got one that does not parse ({e})") from None
    if not isinstance(doc, dict):
        raise ApiError(400, f"{op}: expected a JSON object, got {_kind(doc)}")
    return doc, None


def _field(doc, name, op):
    if name not in doc:
        raise ApiError(400, f"{op}: expected a field {name!r} in the JSON object, got the fields "
                            f"{short(sorted(doc))}")
    return doc[name]


def _kind(v):
    name = type(v).__name__
    return ("an " if name[0] in "aeiou" else "a ") + name


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def image_from_json(value, op):
    """A 28x28 float32 array from nested lists of numbers in [0, 1], checked before NumPy sees them."""
    what = f"'image' as {IMAGE_SIZE} rows of {IMAGE_SIZE} numbers in [0, 1]"
    if not isinstance(value, list):
        raise ApiError(422, f"{op}: expected {what}, got {_kind(value)}")
    if len(value) != IMAGE_SIZE:
        raise ApiError(422, f"{op}: expected {what}, got {len(value)} rows")
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != IMAGE_SIZE:
            got = f"{len(row)} values" if isinstance(row, list) else _kind(row)
            raise ApiError(422, f"{op}: expected {what}, got {got} in row {i}")
        for j, v in enumerate(row):
            if not _is_number(v) or not (0.0 <= v <= 1.0):  # NaN fails both comparisons
                raise ApiError(422, f"{op}: expected {what}, got {short(v)} at row {i}, column {j}")
    return np.array(value, dtype=np.float32)


def image_from_png(data, op):
    """A 28x28 PNG as a float32 array in [0, 1]: grayscale as is, colour as its luminance (ITU-R 601), 16-bit
    scaled. Not inverted: a dark digit on white stays a mostly-1 image (the model expects ink = 1)."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        if img.format != "PNG":
            raise ApiError(422, f"{op}: expected a PNG image, got a {img.format} image")
        if img.size != (IMAGE_SIZE, IMAGE_SIZE):  # checked from the header, before decoding the pixels
            raise ApiError(422, f"{op}: expected a {IMAGE_SIZE}x{IMAGE_SIZE} PNG, got {img.size[0]}x"
                                f"{img.size[1]} (width x height)")
        img.load()
        if img.mode in ("I", "I;16", "I;16B", "I;16L"):
            return np.clip(np.asarray(img, dtype=np.float32) / 65535, 0, 1)
        return np.asarray(img.convert("L"), dtype=np.float32) / np.float32(255)
    except ApiError:
        raise
    except UnidentifiedImageError:
        raise ApiError(422, f"{op}: expected a PNG image, got {len(data)} bytes that are no image") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ApiError(422, f"{op}: expected a PNG image, got bytes that do not decode as one ({e})") \
            from None


def _int(value, name, op, optional=False, query=False):
    """An integer field (or query parameter: its digits)."""
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if query and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ApiError(422, f"{op}: expected {name!r} as an integer{' or null' if optional else ''}, "
                            f"got {short(value)}")
    return value


def _flag(value, name, op, query=False):
    if isinstance(value, bool):
        return value
    if query and isinstance(value, str) and value.lower() in ("1", "0", "true", "false"):
        return value.lower() in ("1", "true")
    raise ApiError(422, f"{op}: expected {name!r} as true or false, got {short(value)}")


# -- endpoints -----------------------------------------------------------------------------------------
def _locked(served, fn, *args, **kwargs):
    with served.lock:
        return fn(served, *args, **kwargs)


def build_app(served):
    """The Starlette app serving ``served``. Starlette is imported here, not with the module: it is the
    ``serve`` extra, and the rest of convgrad imports without it."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    async def call(fn, *args, **kwargs):
        try:
            result = await run_in_threadpool(_locked, served, fn, *args, **kwargs)
        except InspectError as e:
            raise ApiError(e.status, str(e)) from None
        return JSONResponse(result)

    async def index(request):
        path = os.path.join(STATIC, "index.html")
        if os.path.isfile(path):
            return FileResponse(path)
        return HTMLResponse("<!doctype html><title>convgrad serve</title><p>The page is not installed; "
                            "the API is at <a href='/api/model'>/api/model</a>.</p>")

    async def model_info(request):
        return JSONResponse({"name": served.name, "checkpoint": served.checkpoint,
                             "input_size": [1, IMAGE_SIZE, IMAGE_SIZE], "classes": served.classes,
                             "layers": inspect.public_layers(served)})

    async def predict(request):
        doc, png = await _json(request, "predict", ("application/json", "image/png"))
        if png is not None:
            image = image_from_png(png, "predict")
            sal = _flag(request.query_params.get("saliency", "false"), "saliency", "predict", query=True)
        else:
            image = image_from_json(_field(doc, "image", "predict"), "predict")
            sal = _flag(doc.get("saliency", False), "saliency", "predict")
        return await call(inspect.predict, image, with_saliency=sal)

    async def occlusion(request):
        doc, _ = await _json(request, "occlusion")
        image = image_from_json(_field(doc, "image", "occlusion"), "occlusion")
        target = _int(doc.get("target"), "target", "occlusion", optional=True)
        window = _int(doc.get("window", 4), "window", "occlusion")
        stride = _int(doc.get("stride", 2), "stride", "occlusion")
        return await call(inspect.occlusion, image, target, window, stride)

    async def conv_explain(request):
        op = "conv_explain"
        doc, _ = await _json(request, op)
        image = image_from_json(_field(doc, "image", op), op)
        layer = _field(doc, "layer", op)
        if not isinstance(layer, str):
            raise ApiError(422, f"{op}: expected 'layer' as a layer name (a string), got {short(layer)}")
        channel, y, x = (_int(_field(doc, k, op), k, op) for k in ("channel", "y", "x"))
        return await call(inspect.conv_explain, image, layer, channel, y, x)

    async def kernel(request):
        q = request.query_params
        layer = _field(q, "layer", "kernel")
        channel = _int(_field(q, "channel", "kernel"), "channel", "kernel", query=True)
        return await call(inspect.kernel, layer, channel)

    async def samples(request):
        q = request.query_params
        count = _int(q.get("count", "8"), "count", "samples", query=True)
        offset = _int(q.get("offset", "0"), "offset", "samples", query=True)
        return await call(inspect.samples, count, offset)

    def _error(status, message):
        return JSONResponse({"error": message}, status_code=status)

    async def api_error(request, e):
        return _error(e.status, e.message)

    async def internal_error(request, e):  # a bug, not a bad request: still JSON, so the page can show it
        return _error(500, f"{request.method} {request.url.path}: internal error {type(e).__name__}: {e}")

    async def http_error(request, e):
        what = {404: "an existing route", 405: "a method this route allows"}.get(e.status_code, "a request")
        return _error(e.status_code, f"{request.method} {request.url.path}: expected {what}, got "
                                     f"{e.detail or e.status_code}")

    routes = [
        Route("/", index),
        Route("/api/model", model_info, methods=["GET"]),
        Route("/api/predict", predict, methods=["POST"]),
        Route("/api/occlusion", occlusion, methods=["POST"]),
        Route("/api/conv_explain", conv_explain, methods=["POST"]),
        Route("/api/kernel", kernel, methods=["GET"]),
        Route("/api/samples", samples, methods=["GET"]),
    ]
    if os.path.isdir(STATIC):
        routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = Starlette(routes=routes, exception_handlers={ApiError: api_error, HTTPException: http_error,
                                                          Exception: internal_error})
    app.state.served = served
    return app
