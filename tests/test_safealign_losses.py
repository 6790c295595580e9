"""SAFE-ALIGN losses on tiny tensors, against values computed by hand."""

import math

import pytest
import torch

from redinstruct.safealign import IGNORE_INDEX, blue_loss, blue_red_loss, per_sample_nll


def test_per_sample_nll_uses_only_labelled_next_tokens():
    # vocabulary of 2; uniform logits give NLL log 2 per token; a confident right logit gives ~0
    logits = torch.zeros(2, 4, 2)
    logits[1, 1, 1] = 50.0  # position 1 predicts token 1 for sample 1
    labels = torch.tensor([[IGNORE_INDEX, 0, 1, IGNORE_INDEX], [IGNORE_INDEX, IGNORE_INDEX, 1, 0]])
    nll = per_sample_nll(logits, labels)
    # sample 0: labelled targets at positions 1 and 2, both uniform -> log 2
    assert nll[0].item() == pytest.approx(math.log(2))
    # sample 1: targets at positions 2 (predicted from position 1: confident, ~0) and 3 (uniform, log 2)
    assert nll[1].item() == pytest.approx(math.log(2) / 2, abs=1e-6)


def test_blue_red_loss_hand_computed():
    nll = torch.tensor([2.0, 0.5, 1.5, 0.8])
    is_red = torch.tensor([False, True, True, True])
    out = blue_red_loss(nll, is_red, tau=1.0, lambda_ascent=0.1)
    # blue +2.0; red 0.5 < tau -> -0.05; red 1.5 >= tau -> 0; red 0.8 < tau -> -0.08; mean over 4
    assert out.loss.item() == pytest.approx((2.0 - 0.05 + 0.0 - 0.08) / 4)
    assert out.blue_nll == pytest.approx(2.0) and out.red_nll == pytest.approx((0.5 + 1.5 + 0.8) / 3)
    assert out.red_above_tau == pytest.approx(1 / 3)
    with_descent = blue_red_loss(nll, is_red, tau=1.0, lambda_ascent=0.1, lambda_descent=0.2)
    assert with_descent.loss.item() == pytest.approx((2.0 - 0.05 + 0.3 - 0.08) / 4)


def test_blue_red_gradients_push_red_up_and_blue_down():
    nll = torch.tensor([1.0, 0.5], requires_grad=True)
    blue_red_loss(nll, torch.tensor([False, True]), tau=1.0, lambda_ascent=0.1).loss.backward()
    assert nll.grad[0] > 0 and nll.grad[1] < 0  # descend blue NLL, ascend red NLL
    assert blue_loss(torch.tensor([1.0, 3.0])).item() == 2.0


def test_all_blue_or_all_red_batches():
    assert blue_red_loss(torch.tensor([1.0]), torch.tensor([False])).red_nll is None
    only_red = blue_red_loss(torch.tensor([2.0]), torch.tensor([True]))
    assert only_red.blue_nll is None and only_red.loss.item() == 0.0 and only_red.red_above_tau == 1.0


def test_nll_from_hidden_states_projects_only_labelled_positions_and_matches_the_full_projection(tiny_base):
    """The cheap path (vocabulary projection where a label is) gives what the full logits give, gradients too."""
    import torch
    from transformers import AutoModelForCausalLM

    from redinstruct.safealign._losses import per_sample_nll_from_hidden

    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    torch.manual_seed(0)
    ids = torch.randint(5, 1000, (3, 12))
    labels = ids.clone()
    labels[:, :5] = IGNORE_INDEX  # the prompt
    labels[2, 9:] = IGNORE_INDEX  # padding
    full = per_sample_nll(model(input_ids=ids).logits, labels)
    full.sum().backward()
    full_grad = model.get_output_embeddings().weight.grad.clone()
    model.zero_grad()
    out = model(input_ids=ids, output_hidden_states=True, logits_to_keep=1)
    cheap = per_sample_nll_from_hidden(out.hidden_states[-1], model.get_output_embeddings(), labels)
    cheap.sum().backward()
    assert torch.allclose(full, cheap, atol=1e-5)
    assert torch.allclose(full_grad, model.get_output_embeddings().weight.grad, atol=1e-5)
