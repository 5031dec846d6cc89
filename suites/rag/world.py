"""A fictional world: invented towns, people, companies and plants with invented attributes, rendered as
documents and questions in English or Chinese. No pretrained model can know these facts, so what a model
answers about them comes from the documents it is shown, or from what fine-tuning taught it.

`build_world(seed, lang)` is a pure function of its arguments. Every fact is stated in exactly one document
(its entity's), at a recorded character offset, and its value occurs nowhere else in that document.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from suites.rag.corpus import Chunk
from suites.rag.source import QA, Source, find_spans
from suites.rag.world_lexicon import ATTRIBUTES, BRIDGES, EN_NAMES, FILLERS, NOTE_TITLES, POOLS, ZH_NAMES

KINDS = ("town", "person", "company", "plant")
DEFAULT_SIZES = {"town": 60, "person": 90, "company": 50, "plant": 40}
N_ALTERNATIVES = 6


@dataclass
class Entity:
    id: str
    kind: str
    name: str
    facts: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    lang: str
    seed: int
    entities: list[Entity]
    passages: list[Chunk]
    spans: dict[tuple[str, str], int]  # (entity id, attribute) -> offset of the value in the entity's passage

    def entity(self, entity_id: str) -> Entity:
        return self._by_id[entity_id]

    def __post_init__(self):
        self._by_id = {e.id: e for e in self.entities}
        self._by_name = {e.name: e for e in self.entities}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _make_name(rng: random.Random, kind: str, lang: str) -> str:
    if lang == "zh":
        if kind == "person":
            surnames, given = ZH_NAMES["person"]
            return rng.choice(surnames) + "".join(rng.sample(given, rng.choice((1, 2))))
        chars, suffixes = ZH_NAMES[kind]
        return "".join(rng.sample(chars, 2)) + rng.choice(suffixes)
    if kind == "person":
        first, (heads, tails) = EN_NAMES["person_first"], EN_NAMES["person_last"]
        return f"{rng.choice(first)} {rng.choice(heads)}{rng.choice(tails)}"
    if kind == "town":
        heads, mids, tails = EN_NAMES["town"]
        return rng.choice(heads) + rng.choice(mids) + rng.choice(tails)
    if kind == "company":
        heads, tails, kinds = EN_NAMES["company"]
        return f"{rng.choice(heads)}{rng.choice(tails)} {rng.choice(kinds)}"
    heads, tails = EN_NAMES["plant"]
    return rng.choice(heads) + rng.choice(tails)


def _names(rng: random.Random, lang: str, sizes: dict[str, int]) -> dict[str, list[str]]:
    """Unique names; no name contains another, so a name's presence in a text is unambiguous."""
    taken: list[str] = []
    out: dict[str, list[str]] = {}
    for kind in KINDS:
        out[kind] = []
        tries = 0
        while len(out[kind]) < sizes[kind]:
            tries += 1
            if tries > 200 * sizes[kind] + 1000:
                raise ValueError(f"cannot invent {sizes[kind]} distinct {kind} names in {lang}; lower the world size")
            name = _make_name(rng, kind, lang)
            if any(name in other or other in name for other in taken):
                continue
            taken.append(name)
            out[kind].append(name)
    return out


def _draw_value(rng: random.Random, spec: tuple, lang: str, names: dict[str, list[str]], own: str) -> str:
    kind = spec[0]
    if kind == "year":
        return str(rng.randint(spec[1], spec[2]))
    if kind == "count":
        n = rng.randint(spec[1], spec[2])
        return f"{n:,}" if lang == "en" else str(n)
    if kind == "pool":
        return rng.choice(POOLS[spec[1]][lang])
    return rng.choice([n for n in names[spec[1]] if n != own])


def _render(rng: random.Random, entity: Entity, lang: str) -> tuple[str, dict[str, int]]:
    """The entity's document: one sentence per fact (shuffled, random phrasing) and maybe a filler sentence."""
    attrs = list(entity.facts)
    rng.shuffle(attrs)
    pieces: list[tuple[str | None, str, str, str]] = []  # (attribute, before value, value, after value)
    for attr in attrs:
        template = rng.choice(ATTRIBUTES[entity.kind][attr]["sentences"][lang])
        before, after = template.split("{value}")
        before = before.format(name=entity.name)
        after = after.format(name=entity.name)
        value = entity.facts[attr]
        if not before:
            value = _cap(value)  # a sentence never starts in lower case; names and numbers are unaffected
        pieces.append((attr, before, value, after))
    if rng.random() < 0.6:
        filler = rng.choice(FILLERS[lang][entity.kind])
        pieces.insert(rng.randrange(1, len(pieces) + 1), (None, filler, "", ""))
    sep = " " if lang == "en" else ""
    text, spans = "", {}
    for attr, before, value, after in pieces:
        if text:
            text += sep
        text += before
        if attr is not None:
            spans[attr] = len(text)
        text += value + after
    return text, spans


def _values_unique(text: str, entity: Entity) -> bool:
    return all(len(find_spans(text, v)) == 1 and text.count(v) == 1 for v in entity.facts.values())


def build_world(seed: int = 0, lang: str = "en", sizes: dict[str, int] | None = None) -> World:
    if lang not in ("en", "zh"):
        raise ValueError(f"world language must be en or zh, got {lang!r}")
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    if min(sizes.values()) < 4:
        raise ValueError(f"every entity kind needs at least 4 entities, got {sizes}")
    rng = random.Random(f"rag-world:{seed}:{lang}")
    names = _names(rng, lang, sizes)
    entities, passages, spans = [], [], {}
    for kind in KINDS:
        for k, name in enumerate(names[kind]):
            entity = Entity(id=f"{kind}-{k:03d}", kind=kind, name=name)
            for _attempt in range(100):
                entity.facts = {attr: _draw_value(rng, spec["value"], lang, names, name)
                                for attr, spec in ATTRIBUTES[kind].items()}
                text, offsets = _render(rng, entity, lang)
                if _values_unique(text, entity):
                    break
            else:
                raise RuntimeError(f"{entity.id}: could not draw facts whose values are distinct in the document")
            entities.append(entity)
            passages.append(Chunk(id=entity.id, doc_id=entity.id, title=name, text=text))
            spans.update({(entity.id, attr): start for attr, start in offsets.items()})
    return World(lang=lang, seed=seed, entities=entities, passages=passages, spans=spans)


# --- questions --------------------------------------------------------------------------------------------


def _alternatives(rng: random.Random, world: World, entity: Entity, attr: str, text: str) -> tuple[str, ...]:
    """Wrong values of the same kind that do not occur in the document and are not confusable with the answer."""
    spec = ATTRIBUTES[entity.kind][attr]["value"]
    answer = entity.facts[attr]
    names = {kind: [e.name for e in world.entities if e.kind == kind] for kind in KINDS}
    out: list[str] = []
    for _ in range(200):
        value = _draw_value(rng, spec, world.lang, names, entity.name)
        if value in out or value in answer or answer in value or value.lower() in text.lower():
            continue
        out.append(value)
        if len(out) == N_ALTERNATIVES:
            break
    return tuple(out)


def world_qas(world: World) -> list[QA]:
    rng = random.Random(f"rag-world-qa:{world.seed}:{world.lang}")
    out = []
    for entity, passage in zip(world.entities, world.passages):
        for attr, fact in ATTRIBUTES[entity.kind].items():
            value = entity.facts[attr]
            ref = world._by_name.get(value) if fact["value"][0] == "ref" else None
            start = world.spans[(entity.id, attr)]
            shown = passage.text[start : start + len(value)]  # the value as written (capitalised at a sentence start)
            out.append(QA(
                id=f"{entity.id}:{attr}", lang=world.lang,
                questions=tuple(_cap(q.format(name=entity.name)) for q in fact["questions"][world.lang]),
                answer=value, aliases=(shown,) if shown != value else (), gold_ids=(entity.id,),
                related_ids=(ref.id,) if ref else (), mentions=(entity.name,),
                topic=fact["topic"][world.lang].format(name=entity.name),
                statement=fact["statement"][world.lang].format(name=entity.name, value="{value}"),
                value_spans=(start,) if shown == value else (),
                alternatives=_alternatives(rng, world, entity, attr, passage.text)))
    return out


def world_multi_qas(world: World) -> list[QA]:
    """Two-document questions: the first document names an entity, the second holds the asked fact about it."""
    out = []
    lang = world.lang
    for entity in world.entities:
        for (kind, ref_attr), targets in BRIDGES.items():
            if entity.kind != kind:
                continue
            ref = world._by_name[entity.facts[ref_attr]]
            ref_fact = ATTRIBUTES[kind][ref_attr]
            described = ref_fact["descriptor"][lang].format(name=entity.name)
            bridge = ref_fact["statement"][lang].format(name=entity.name, value=ref.name)
            for target in targets:
                fact = ATTRIBUTES[ref.kind][target]
                out.append(QA(
                    id=f"{entity.id}:{ref_attr}:{target}", lang=lang,
                    questions=tuple(_cap(q.format(name=described)) for q in fact["questions"][lang]),
                    answer=ref.facts[target], gold_ids=(entity.id, ref.id), related_ids=(),
                    mentions=(entity.name, ref.name), topic=fact["topic"][lang].format(name=described),
                    statement=fact["statement"][lang].format(name=ref.name, value="{value}"), bridge=bridge))
    return out


def note_passage(world: World, qa: QA, value: str, rng: random.Random) -> Chunk:
    """A second, disagreeing source for a one-document question: a short note about the same entity that
    states the fact with `value`, next to another (true) fact about it."""
    entity_id, attr = qa.id.split(":")
    entity = world.entity(entity_id)
    lang = world.lang
    sentence = rng.choice(ATTRIBUTES[entity.kind][attr]["sentences"][lang])
    before = sentence.split("{value}")[0]
    sentences = [sentence.format(name=entity.name, value=value if before else _cap(value))]
    others = [a for a in entity.facts if a != attr]
    other = rng.choice(others)
    other_value = entity.facts[other]
    other_sentence = rng.choice(ATTRIBUTES[entity.kind][other]["sentences"][lang])
    other_before = other_sentence.split("{value}")[0]
    sentences.insert(rng.randrange(2), other_sentence.format(
        name=entity.name, value=other_value if other_before else _cap(other_value)))
    title = rng.choice(NOTE_TITLES[lang]).format(name=entity.name)
    note_id = f"{entity_id}/note"
    return Chunk(id=note_id, doc_id=note_id, title=title, text=(" " if lang == "en" else "").join(sentences))


def world_source(seed: int = 0, lang: str = "en", sizes: dict[str, int] | None = None) -> Source:
    world = build_world(seed, lang, sizes)
    return Source(name=f"world(seed={seed}, {lang})", passages=world.passages, single={lang: world_qas(world)},
                  multi={lang: world_multi_qas(world)},
                  second_source=lambda qa, value, rng: note_passage(world, qa, value, rng))
