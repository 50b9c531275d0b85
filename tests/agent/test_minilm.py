"""The plain-torch MiniLM forward gives transformers' BertModel numbers, token for token."""

import pytest
import torch

from agent.language.embedding import embed_text, minilm_folder
from agent.language.minilm import MiniLM

TEXTS = ["open the drawer", "Put the RED block in the drawer, please!", "crimson", "über café naïve",
         "I'd like the lamp switched on", "a " * 200]


@pytest.fixture(scope="module")
def reference():
    transformers = pytest.importorskip("transformers")
    folder = str(minilm_folder())
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
    return tokenizer, model


@pytest.mark.parametrize("text", TEXTS)
def test_same_tokens_and_hidden_states_as_transformers(reference, text):
    tokenizer, model = reference
    ours = MiniLM.load(minilm_folder())
    batch = tokenizer([text], truncation=True, max_length=128, return_tensors="pt")
    ids = ours.token_ids(text)
    assert ids.tolist() == batch["input_ids"][0].tolist()
    with torch.no_grad():
        expected = model(**batch).last_hidden_state[0]
    torch.testing.assert_close(ours(ids), expected, rtol=0, atol=1e-5)


def test_embedding_is_a_unit_vector_and_repeats_exactly():
    v = embed_text("open the drawer")
    assert v.shape == (384,)
    assert abs(float(v.norm()) - 1) < 1e-5
    model = MiniLM.load(minilm_folder())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # embed_text always runs on one thread
    try:
        again = torch.nn.functional.normalize(model(model.token_ids("open the drawer")).mean(0), dim=-1)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(v, again)
