"""convgrad.threads, with which the convolution engine spreads its blocks over worker threads: parallel's
results in order, errors raised to the caller, BLAS single-threaded inside and given back its count after,
nested calls in turn; Claims and OrderedSum; and the engine on several threads against one thread and
PyTorch on ResNet-sized layers."""

import threading

import numpy as np
import pytest
import torch

import convgrad
from convgrad import threads
from convgrad.functional import im2col

torch.set_num_threads(1)


def _blas_now():
    return [c.get_num_threads() for c in threads._controllers()]


@pytest.fixture
def two_threads():
    before = convgrad.get_num_threads()
    convgrad.set_num_threads(2)
    yield
    convgrad.set_num_threads(before)


def test_parallel_returns_results_in_order_from_several_threads(two_threads):
    seen = []
    barrier = threading.Barrier(3, timeout=10)

    def part(i):
        barrier.wait()  # passes only if all three parts run at once
        seen.append(threading.get_ident())
        return i * i

    assert threads.parallel(part, [1, 2, 3]) == [1, 4, 9]
    assert len(set(seen)) == 3 and threading.get_ident() in seen


def test_blas_is_single_threaded_inside_and_restored_after(two_threads):
    if not _blas_now():
        pytest.skip("no BLAS library reports its threads")
    inside = threads.parallel(lambda _: _blas_now(), [0, 1])
    assert inside == [[1] * len(_blas_now())] * 2
    assert max(_blas_now()) == 2
    assert threads.worker_count() == 2


def test_an_error_in_a_part_reaches_the_caller_and_restores_blas(two_threads):
    def part(i):
        if i == 1:
            raise KeyError("part 1")
        return i

    with pytest.raises(KeyError, match="part 1"):
        threads.parallel(part, [0, 1])
    assert threads.worker_count() == 2 and threads._inside == 0


def test_after_an_error_the_caller_goes_on_only_when_every_part_has_stopped(two_threads):
    import time

    done = []

    def part(i):
        if i == 0:  # the caller's own part fails at once
            raise ValueError("part 0")
        time.sleep(0.2)
        done.append(i)

    with pytest.raises(ValueError, match="part 0"):
        threads.parallel(part, [0, 1])
    assert done == [1]  # the other part had finished: it writes into nothing the caller frees


def test_nested_calls_run_in_turn_on_the_part_thread(two_threads):
    def inner(_):
        return threading.get_ident()

    def outer(_):
        return set(threads.parallel(inner, [0, 1, 2])) == {threading.get_ident()}

    assert threads.parallel(outer, [0, 1]) == [True, True]


def test_claims_hand_each_item_to_exactly_one_thread(two_threads):
    claims = threads.Claims(range(2000))
    got = threads.parallel(lambda _: list(claims), [0, 1, 2])
    assert sorted(sum(got, [])) == list(range(2000))


def test_ordered_sum_adds_in_index_order_whatever_order_parts_arrive():
    rng = np.random.default_rng(0)
    parts = [rng.standard_normal(5).astype(np.float32) * 10.0 ** rng.integers(-4, 4) for _ in range(30)]
    want = np.zeros(5, np.float32)
    for p in parts:
        want += p
    total = threads.OrderedSum(np.zeros(5, np.float32))
    for i in rng.permutation(30):
        total.add(int(i), parts[i])
    assert np.array_equal(total.total, want)  # bit for bit: float addition is not associative


def test_one_part_runs_on_the_caller():
    assert threads.parallel(lambda _: threading.get_ident(), [0]) == [threading.get_ident()]


def test_the_user_thread_count_sets_the_workers():
    before = convgrad.get_num_threads()
    try:
        convgrad.set_num_threads(1)
        geo = _geometry(128, 16, 32)
        assert geo.workers() == 1
        convgrad.set_num_threads(2)
        assert geo.workers() == 2
    finally:
        convgrad.set_num_threads(before)


def test_small_convolutions_stay_on_one_thread(two_threads):
    assert _geometry(2, 3, 5).workers() == 1


def _geometry(n, c, size):
    return im2col.ConvGeometry((n, c, size, size), (c, c, 3, 3), (n, c, size, size), (1, 1),
                               ((1, 1), (1, 1)), (1, 1), 1)


@pytest.mark.parametrize("n, c, size, stride", [(16, 16, 32, 1), (9, 32, 16, 2), (5, 64, 8, 1)])
def test_resnet_layers_split_over_workers_match_one_thread_and_torch(two_threads, n, c, size, stride):
    """Output and both gradients of (y * y).sum(), on one thread and split over two, against PyTorch in
    float64; the tolerance is float32's over sums of c*9 products, relative to each array's scale."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, size, size)).astype(np.float32)
    w = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    xt, wt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w))
    yt = torch.nn.functional.conv2d(xt, wt, stride=stride, padding=1)
    (yt * yt).sum().backward()
    want = [t.detach().numpy() for t in (yt, xt.grad, wt.grad)]
    results = {}
    for workers in (1, 2, 3):
        with im2col.forced_paths(workers=workers, block_bytes=200_000):  # several blocks, some of rows
            xc, wc = convgrad.tensor(x, requires_grad=True), convgrad.tensor(w, requires_grad=True)
            y = convgrad.nn.functional.conv2d(xc, wc, stride=stride, padding=1)
            (y * y).sum().backward()
        results[workers] = (y.detach().numpy(), xc.grad.numpy(), wc.grad.numpy())
        for got, ref in zip(results[workers], want):
            np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    for one, two in zip(results[1], results[2]):
        np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-5 * np.abs(one).max())
    for two, three in zip(results[2], results[3]):
        assert np.array_equal(two, three)  # blocks are summed in order: the same on any number of workers


def test_large_convolutions_give_each_core_two_blocks_and_the_same_bits_on_any_workers(two_threads):
    """Shifted-rows columns are small, so a ResNet layer would fit in one or two blocks of ``_BLOCK_BYTES``
    and leave a worker idle: a convolution large enough for threads is cut into two blocks a core, the
    same cut on any number of workers, so its weight gradient has the same bits."""
    geo = _geometry(32, 16, 32)
    assert geo.flop >= im2col._PARALLEL_MIN_FLOP and geo.shift_rows
    assert len(geo.blocks(4)) >= 2 * im2col._CORES
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    grads = []
    for workers in (None, 2, 3):
        with im2col.forced_paths(workers=workers):
            xc, wc = convgrad.tensor(x, requires_grad=True), convgrad.tensor(w, requires_grad=True)
            convgrad.nn.functional.conv2d(xc, wc, padding=1).square().sum().backward()
        grads.append((xc.grad.numpy(), wc.grad.numpy()))
    for got in grads[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(got, grads[0]))


def _in_thread(fn):
    """fn() on a new (non-main) thread; its result, or its exception raised here."""
    out = {}

    def target():
        try:
            out["result"] = fn()
        except BaseException as e:  # noqa: BLE001  (re-raised on the caller)
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join(60)
    if "error" in out:
        raise out["error"]
    return out["result"]


def test_parallel_from_another_thread_after_the_main_thread_set_the_count_does_not_oversubscribe(two_threads):
    """OpenBLAS ignores a thread count set from any thread but the main one once the main thread has set
    it: then the parts must not run on workers each with BLAS's two threads. Each part sees BLAS on one
    thread, or they all ran in order on the calling thread (with BLAS's threads, as any product there)."""
    if not _blas_now():
        pytest.skip("no BLAS library reports its threads")

    def call():
        caller = threading.get_ident()
        seen = threads.parallel(lambda i: (i, threading.get_ident(), max(_blas_now())), [0, 1, 2])
        return caller, seen

    caller, seen = _in_thread(call)
    assert [i for i, _, _ in seen] == [0, 1, 2]
    assert all(n == 1 for _, _, n in seen) or all(ident == caller for _, ident, _ in seen)
    assert max(_blas_now()) == 2 and convgrad.get_num_threads() == 2 and threads._inside == 0


def test_a_convolution_on_another_thread_matches_torch_and_keeps_blas_single_threaded_on_workers(
        two_threads, monkeypatch):
    if not _blas_now():
        pytest.skip("no BLAS library reports its threads")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((16, 16, 3, 3)) / 12).astype(np.float32)
    assert _geometry(32, 16, 32).workers() == 2  # large enough to be split over the workers
    seen = []
    im2col_ = im2col._im2col

    def spy(*args, **kwargs):  # every block's columns: the thread that builds them and BLAS's count there
        seen.append((threading.get_ident(), max(_blas_now())))
        return im2col_(*args, **kwargs)

    monkeypatch.setattr(im2col, "_im2col", spy)

    def step():
        xc, wc = convgrad.tensor(x, requires_grad=True), convgrad.tensor(w, requires_grad=True)
        y = convgrad.nn.functional.conv2d(xc, wc, padding=1)
        (y * y).sum().backward()
        return threading.get_ident(), [a.numpy() for a in (y.detach(), xc.grad, wc.grad)]

    caller, got = _in_thread(step)
    xt, wt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w))
    yt = torch.nn.functional.conv2d(xt, wt, padding=1)
    (yt * yt).sum().backward()
    for a, ref in zip(got, (yt.detach().numpy(), xt.grad.numpy(), wt.grad.numpy())):
        np.testing.assert_allclose(a, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    assert seen
    assert all(n == 1 or ident == caller for ident, n in seen)  # no worker runs BLAS's threads
    assert max(_blas_now()) == 2 and threads._inside == 0


def test_a_region_ended_on_a_thread_blas_ignores_gives_the_count_back_at_the_next_one(two_threads):
    """The main thread opens a region, another thread joins it and ends last: if BLAS ignored that thread's
    giving back of the count, the user's count still reads 2 and the next region the main thread ends
    restores it."""
    if not _blas_now():
        pytest.skip("no BLAS library reports its threads")
    joined, main_left = threading.Event(), threading.Event()

    def other():
        with threads.single_threaded_blas() as single:
            joined.set()
            main_left.wait(10)
        return single

    with threads.single_threaded_blas():
        t = threading.Thread(target=other)
        t.start()
        assert joined.wait(10)
    main_left.set()
    t.join(10)
    assert threads.worker_count() == 2 and convgrad.get_num_threads() == 2
    with threads.single_threaded_blas() as single:
        assert single and max(_blas_now()) == 1
    assert max(_blas_now()) == 2 and not threads._restore_pending


def test_a_count_set_during_a_region_is_the_one_given_back(two_threads):
    if not _blas_now():
        pytest.skip("no BLAS library reports its threads")
    with threads.single_threaded_blas():
        convgrad.set_num_threads(3)
    assert max(_blas_now()) == 3 and convgrad.get_num_threads() == 3


def test_concurrent_callers_with_different_part_counts(two_threads):
    """Two threads calling parallel at once, one with more parts than the pool has threads: the pool grows
    under the other's feet, which must still get every part run (no "cannot schedule new futures after
    shutdown")."""
    errors, stop = [], threading.Event()

    def caller(n):
        try:
            for k in range(200):
                assert threads.parallel(lambda i, k=k: i * k, list(range(n))) == [i * k for i in range(n)]
                if stop.is_set():
                    return
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
            stop.set()

    for rounds in range(3):
        threads._pool, threads._pool_size = None, 0  # let each round grow the pool again
        ts = [threading.Thread(target=caller, args=(n,)) for n in (2, 3 + rounds, 5 + rounds)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        assert not errors, errors
    assert threads._inside == 0 and threads.worker_count() == 2


def test_the_cut_serves_at_most_max_cut_cores_and_workers_get_two_blocks_each(monkeypatch):
    """On a host reporting 64 cores the cut stays at two blocks for each of ``_MAX_CUT_CORES`` cores (not
    224 one-row blocks of ResNet-18's 128-channel layer), and 64 threads run it on half as many workers as
    blocks, with the same bits as one worker."""
    monkeypatch.setattr(im2col, "usable_cores", lambda: 64)
    assert im2col._cut_cores() == im2col._MAX_CUT_CORES
    monkeypatch.setattr(im2col, "_CORES", im2col._cut_cores())
    geo = im2col.ConvGeometry((8, 128, 28, 28), (128, 128, 3, 3), (8, 128, 28, 28), (1, 1),
                              ((1, 1), (1, 1)), (1, 1), 1)
    blocks = geo.blocks(4)
    assert len(blocks) == 2 * im2col._MAX_CUT_CORES
    assert min(b[1].stop - b[1].start for b in blocks) > 1

    rng = np.random.default_rng(3)
    x = rng.standard_normal(geo.x4).astype(np.float32)
    w = (rng.standard_normal(geo.w4) / 34).astype(np.float32)

    def grads():
        xc, wc = convgrad.tensor(x, requires_grad=True), convgrad.tensor(w, requires_grad=True)
        convgrad.nn.functional.conv2d(xc, wc, padding=1).square().sum().backward()
        return xc.grad.numpy(), wc.grad.numpy()

    with im2col.forced_paths(workers=1):
        one = grads()
    parts = []
    parallel = im2col.parallel

    def spy(fn, ps):
        parts.append(len(ps))
        return parallel(fn, ps)

    monkeypatch.setattr(im2col, "worker_count", lambda: 64)
    monkeypatch.setattr(im2col, "parallel", spy)
    many = grads()
    assert parts and max(parts) <= len(blocks) // 2 and len(blocks) // 2 in parts
    assert all(np.array_equal(a, b) for a, b in zip(many, one))
