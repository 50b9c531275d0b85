import numpy as np
import pytest
import torch

from envs.narration import NARRATIONS
from agent.language.narrator import (NONE, Narrator, NarratorSpec, build_tokenizer, clip_indices, load_narrator,
                                     save_narrator)
from agent.language.narrator_training import segments
from agent.weights import WeightsError

SPEC = NarratorSpec(input_dim=6, window=3, prefix_tokens=2, n_embd=16, n_layer=1, n_head=2)


@pytest.fixture
def narrator():
    torch.manual_seed(0)
    return Narrator(SPEC, build_tokenizer([*NARRATIONS, NONE]))


def test_tokenizer_round_trips_every_narration():
    tok = build_tokenizer([*NARRATIONS, NONE])
    for text in NARRATIONS:
        assert " ".join(tok.id_to_token(i) for i in tok.encode(text).ids) == text
    assert len(set(tok.get_vocab().values())) == tok.get_vocab_size()


def test_learns_to_narrate_two_clips(narrator):
    clips = torch.randn(2, 3, 6, generator=torch.Generator().manual_seed(0))
    texts = ["opening the drawer", NONE]
    opt = torch.optim.Adam(narrator.parameters(), lr=3e-3)
    for _ in range(150):
        loss = narrator.loss(clips, texts)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert narrator.eval().generate(clips) == ["opening the drawer", ""]


def test_save_load_identical(narrator, tmp_path):
    save_narrator(narrator.eval(), tmp_path)
    loaded = load_narrator(tmp_path)
    clips = torch.rand(2, 3, 6)
    assert narrator.generate(clips) == loaded.generate(clips)
    (tmp_path / "narrator.safetensors").write_bytes(b"junk")
    with pytest.raises(WeightsError, match="narrator.safetensors"):
        load_narrator(tmp_path)


def test_narrator_made_for_other_features_is_refused(narrator, tmp_path):
    """A narrator trained before the gaze joined the per-step features would read the wrong numbers."""
    import json

    save_narrator(narrator.eval(), tmp_path)
    config = json.loads((tmp_path / "narrator.json").read_text())
    del config["features"]
    (tmp_path / "narrator.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="retrain it"):
        load_narrator(tmp_path)


def test_clip_indices_stay_in_the_episode():
    steps = np.array([0, 1, 2, 3, 0, 1])
    idx = clip_indices(steps, 3)
    assert idx.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3], [4, 4, 4], [4, 4, 5]]


def test_segments_split_at_label_and_episode_changes():
    labels = np.array([-1, 2, 2, 2, -1, 2, 5, 5])
    episodes = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    assert segments(labels, episodes) == [(1, 4, 2), (5, 6, 2), (6, 8, 5)]


def test_stream_speaks_a_new_event_once_it_is_confirmed(narrator):
    from agent.language.narrator import NarrationStream

    stream = NarrationStream(narrator)
    heard = [stream.hear(t) for t in ["", "opening the drawer", "opening the drawer", "opening the drawer",
                                       "closing the drawer", "opening the drawer", "", ""]]
    # spoken on its second step; a one-step flicker is not spoken; silence is never spoken
    assert heard == [None, None, "opening the drawer", None, None, None, None, None]
    assert stream.current == ""
