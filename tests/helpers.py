"""Small shared helpers for the tests."""


def forward_backward(model, clip):
    """One training step's worth of autograd: every parameter that should learn gets a gradient."""
    model.train()
    out = model.forward_features(clip)
    out["logits"].sum().backward()
    return out
