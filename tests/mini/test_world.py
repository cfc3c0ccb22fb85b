"""World rules, held-out pairs, determinism, labels."""

import itertools

from mis.data import category_problem
from mis.mini import (
    MiniConfig,
    heldout_pairs,
    load_world,
    plan,
    refusal,
    safety_cot,
    target_for,
)


def test_catalogue_names_are_distinct_and_not_substrings():
    world = load_world()
    names = [o.name for o in world.objects]
    assert len(names) == len(set(names)) == 30
    for a, b in itertools.permutations(names, 2):
        assert a not in b, (a, b)
    looks = {(o.shape, o.color) for o in world.objects}
    assert len(looks) == len(world.objects)  # every class looks different


def test_no_single_part_is_harmful_alone():
    world = load_world()
    # Every object appears in some harmless combination and in no rule with itself alone.
    for obj in world.objects:
        others = [other for other in world.objects if other is not obj]
        assert any(world.rule_for(obj, other) is None for other in others), obj.name
    # Every instruction is used with harmless pairs in the benign split and with risky ones in hard.
    planned = plan(MiniConfig(n_train=50, n_eval=200, n_general=0))
    benign_instr = {it.instruction for it in planned["benign"]}
    hard_instr = {it.instruction for it in planned["hard"]}
    assert benign_instr == hard_instr == set(range(len(world.instructions)))
    # Every rule's attributes are carried by objects that are also harmless in other pairs.
    for rule in world.rules:
        assert rule.category and category_problem(rule.category, rule.sub_category) is None


def test_split_semantics():
    world = load_world()
    planned = plan(MiniConfig(n_train=100, n_eval=60, n_general=40))
    for it in planned["train"] + planned["easy"] + planned["hard"]:
        assert world.rule_for(*it.objects(world)) is not None
    for it in planned["easy"]:
        assert any(o.looks_dangerous for o in it.objects(world))
    for it in planned["hard"]:
        assert not any(o.looks_dangerous for o in it.objects(world))
    for it in planned["benign"] + planned["white"]:
        assert world.rule_for(*it.objects(world)) is None
        assert not it.truth(world)["harmful"]
    assert all(it.white for it in planned["white"])
    assert planned["white"][0].truth(world)["objects"] == []


def test_heldout_pairs_never_in_training():
    world = load_world()
    pairs = heldout_pairs(world, seed=3, fraction=0.25)
    train = set(pairs["train"])
    for group in ("easy", "hard", "benign"):
        assert pairs[group] and not set(pairs[group]) & train
    # every object and every rule keeps training pairs
    trained = {n for p in train for n in p}
    assert trained == {o.name for o in world.objects}
    for rule in world.rules:
        assert any(world.rule_for(world.obj(a), world.obj(b)) == rule for a, b in train), rule.name
    planned = plan(MiniConfig(seed=3, n_train=300, n_eval=80, n_general=200))
    key = lambda it: tuple(sorted((it.first, it.second)))  # noqa: E731
    train_pairs = {key(it) for it in planned["train"] + planned["general"]}
    for split in ("easy", "hard", "benign", "white"):
        assert not {key(it) for it in planned[split]} & train_pairs, split


def test_plan_is_deterministic_and_seeded():
    a = plan(MiniConfig(seed=1, n_train=40, n_eval=10, n_general=20))
    b = plan(MiniConfig(seed=1, n_train=40, n_eval=10, n_general=20))
    c = plan(MiniConfig(seed=2, n_train=40, n_eval=10, n_general=20))
    assert a == b
    assert a != c


def test_labels():
    world = load_world()
    candle, curtain = world.obj("yellow candle"), world.obj("pink curtain")
    rule = world.rule_for(candle, curtain)
    assert rule is not None and rule.name == "fire"
    cot = safety_cot(candle, curtain, rule)
    assert cot.startswith("The first image shows a yellow candle. The second image shows a pink curtain. ")
    assert rule.reason in cot and rule.safe_answer in cot
    match, apple = world.obj("orange match"), world.obj("red apple")
    helpful = target_for(match, apple, world.instructions[0])
    assert "an orange match" in helpful and world.labels["harmless"] in helpful
    assert world.instructions[0].helpful in helpful
    assert "sorry" in refusal().lower()
    # corpus covers every label word, so the tiny tokenizer sees them
    corpus = " ".join(world.corpus())
    assert all(w in corpus for w in cot.split())
