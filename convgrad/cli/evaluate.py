"""``convgrad evaluate`` and the one reader of trained weights that every command taking a checkpoint uses."""

import os

from convgrad.cli.common import CLIError, add_command, build_model, load_dataset


# -- evaluate --------------------------------------------------------------------------------------------
def read_weights(path):
    """``(state_dict, config)`` from a training checkpoint (or its run folder: best.pt, or last.pt when a
    kill left best.pt behind it), a saved state_dict or a torch.save file (config then empty)."""
    import convgrad
    from convgrad import training

    if os.path.isdir(path):
        path = training.best_checkpoint(path)
    try:
        state = training.load_checkpoint(path)
        return state["model"], state.get("config", {})
    except training.CheckpointError as e:
        if not os.path.isfile(path):
            raise
        try:
            weights = convgrad.load(path)
        except Exception:
            raise e from None  # neither kind of file: the checkpoint reader's message says what it is
        if not isinstance(weights, dict):
            raise CLIError(f"'{path}' holds a {type(weights).__name__}, not a state_dict or a training "
                           "checkpoint") from None
        return weights, {}


def load_trained(checkpoint, model_name=None, dataset=None, data_root=None):
    """A trained model from a checkpoint written by ``convgrad train`` (or its run folder: best.pt, else
    last.pt; or a bare state_dict given ``model_name`` and ``dataset``), with its test split:
    ``(model, model_name, dataset, test_set, classes)``."""
    weights, config = read_weights(checkpoint)
    model_name = model_name or config.get("model")
    dataset = dataset or config.get("dataset")
    if model_name is None or dataset is None:
        raise CLIError("the checkpoint does not name its model/dataset: pass --model and --dataset")
    test_set, classes = load_dataset(dataset, data_root or config.get("data_root", "data"), False)
    model = build_model(model_name, num_classes=len(classes))
    model.load_state_dict(weights)
    model.eval()
    return model, model_name, dataset, test_set, classes


def run_evaluate(args, log=print):
    from convgrad import training
    from convgrad.utils.data import DataLoader

    model, model_name, dataset, test_set, classes = load_trained(args.checkpoint, args.model, args.dataset,
                                                                 args.data_root)
    trainer = training.Trainer(model, progress=not args.no_progress)
    loader = DataLoader(test_set, batch_size=args.batch_size)
    test, logits, targets = trainer.evaluate(loader, prefix="test_", return_outputs=True)
    cm = training.confusion_matrix(logits.argmax(1), targets, len(classes))
    top5 = f", top-5 {100 * test['test_top5']:.2f}%" if "test_top5" in test else ""
    log(f"{model_name} on {dataset} test split ({len(test_set)} samples): "
        f"accuracy {100 * test['test_acc']:.2f}%{top5}, loss {test['test_loss']:.4f}")
    if args.confusion:
        from convgrad import viz

        viz.plot_confusion_matrix(cm, args.confusion)
        log(f"confusion matrix: {args.confusion}")
    return {**test, "confusion_matrix": cm.tolist()}


def add_evaluate_cli(subparsers):
    p = add_command(subparsers, "evaluate", run_evaluate, help="test accuracy of a checkpoint",
                    description="Evaluate a training checkpoint (or a run folder) on a test split.")
    p.add_argument("checkpoint", help="a .pt checkpoint written by `convgrad train`, or its run folder")
    p.add_argument("--dataset", help="default: the one the checkpoint was trained on")
    p.add_argument("--model", help="default: the checkpoint's (needed for a bare state_dict)")
    p.add_argument("--data-root", default=os.environ.get("CONVGRAD_DATA"))
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--confusion", metavar="PNG", help="also plot the confusion matrix to this file")
    p.add_argument("--no-progress", action="store_true")
    return p
