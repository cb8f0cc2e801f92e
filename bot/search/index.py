"""The in-memory inverted index: BM25F over fields, numpy postings, no I/O.

Scoring. Each document has fields (title, keywords, summary, body, meta) with
weights; a term's per-document weight is BM25F's saturated, length-normalised
sum over fields, ``tf~ / (k1 + tf~)`` in [0, 1), computed once when the
document is indexed. A query is a list of *concepts* — one per query word,
whose alternatives are the word itself and its synonym-group tokens — and a
document's score is ``Σ idf(concept) · best alternative weight``. Dividing by
``Σ idf(concept)`` gives the *coverage*, in [0, 1): how much of what the
resident asked the document answers, weighted by how specific each word is.
Coverage is comparable across queries, which is what lets one threshold say
"nothing found" (see ``bot.search.ranking``). A word no document contains
keeps its full idf in the denominator, so a query about something the
catalog does not cover scores low instead of matching on its filler words.

Storage. Postings live in numpy arrays per term: int32 slots and weights
quantised to a byte (1/255 steps; the gold set's rankings do not move), 5
bytes a posting. Documents added after the last build go to a small delta
segment; a changed document is a new slot and its old slot is marked dead. ``compact`` folds the delta into the arrays and drops dead
postings; it runs when either grows past a share of the index.
"""

from __future__ import annotations

import math
import re
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.search.synonyms import Synonyms
from bot.search.text import Analyzer, DocNumber, doc_number_key, find_doc_numbers, normalize
from bot.search.understand import Lexicon

FIELDS = ("title", "keywords", "summary", "body", "meta")
WEIGHTS = {"title": 4.0, "keywords": 3.0, "summary": 2.0, "body": 0.7, "meta": 1.0}
B = {"title": 0.3, "keywords": 0.3, "summary": 0.5, "body": 0.7, "meta": 0.3}
K1 = 1.2
SYNONYM_FACTOR = 0.9  # a synonym's match counts a little less than the word itself
PIN = "#pin:"  # index term of a staff keyword (never produced by the analyzer)
NUMBER_FACTOR = 0.5  # a number of the query, when choosing the sentence that answers
SHORT_WORD_FACTOR = 0.3  # single characters and bare numbers say little on their own
PARTS_FACTOR = 0.8  # a compound matched only through the words inside it
DOCNO_PARTIAL = 0.6  # year and number match but the issuer was not typed
_LEVELS = np.arange(256, dtype=np.float32) / np.float32(255)  # byte → weight
RELATED_FACTOR = 0.8  # a document term reached through the life-event lexicon
# How much a query word of each part of speech (jieba.posseg) says about the
# subject: nouns and unknown words fully; verbs, adjectives less; pronouns,
# adverbs, particles, numerals and measure words hardly (a long spoken
# sentence is mostly those, and they must not drown the one term that matters).
POS_WEIGHT = {"v": 0.6, "vd": 0.4, "a": 0.5, "ad": 0.3, "z": 0.4, "f": 0.3, "t": 0.3,
              "m": 0.2, "q": 0.2, "r": 0.15, "d": 0.15, "p": 0.15, "c": 0.15,
              "u": 0.1, "y": 0.1, "e": 0.1, "o": 0.1, "zg": 0.1}  # fmt: skip
UNSEEN_CONTENT_WEIGHT = 0.8
GENERIC_WEIGHT = 0.3  # 政府, 老公, 现在 … (data/generic.txt)
NARRATION_FACTOR = 0.5  # words no document has, around a situation the lexicon recognised
SPOKEN_LENGTH = 12  # characters: a query this long that names a situation is narration around it
FULL_POS = ("n", "vn", "an", "l", "i", "j", "eng", "x", "nz", "nr", "ns", "nt")
COMPACT_DELTA = 2000  # docs in the delta segment before folding it into the arrays
COMPACT_DEAD_SHARE = 0.2


@dataclass(slots=True)
class DocInfo:
    """What a hit shows, kept per slot (the text itself is not kept)."""

    kind: str
    id: str
    title: str
    doc_number: str | None = None
    date: str | None = None
    validity: str | None = None
    replaced_by: str | None = None
    policy_id: str | None = None
    form: str | None = None
    area: str | None = None
    prior: float = 1.0
    version: str = ""  # change marker from the database (updated_at), to skip unchanged rows

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id)


class DocTable:
    """Slot → ``DocInfo`` (None once removed). The slots of a loaded snapshot
    are no objects until read (``bot.search.snapshot.MappedDocs`` decodes its
    row): a hit needs a few, and 100,000 objects with their strings cost 80 MB."""

    def __init__(self) -> None:
        self._base = 0  # slots below this are read with ``_read``
        self._removed: set[int] = set()  # … unless removed since
        self._rows: list[DocInfo | None] = []

    def __len__(self) -> int:
        return self._base + len(self._rows)

    def __getitem__(self, slot: int) -> DocInfo | None:
        if slot >= self._base:
            return self._rows[slot - self._base]
        if slot < 0:
            raise IndexError(slot)
        return None if slot in self._removed else self._read(slot)

    def __iter__(self) -> Iterator[DocInfo | None]:
        return (self[slot] for slot in range(len(self)))

    def append(self, info: DocInfo) -> None:
        self._rows.append(info)

    def remove(self, slot: int) -> None:
        if slot >= self._base:
            self._rows[slot - self._base] = None
        else:
            self._removed.add(slot)

    def _read(self, slot: int) -> DocInfo | None:
        raise IndexError(slot)


@dataclass
class IndexDoc:
    info: DocInfo
    fields: dict[str, str | Sequence[str]]  # name → text, or a list of phrases (keywords)


@dataclass
class Analysed:
    """A document cut into per-field term counts (the expensive, thread-safe part)."""

    info: DocInfo
    counts: dict[str, Counter[str]]
    lengths: dict[str, int]
    docno: DocNumber | None


@dataclass
class Concept:
    """One query word: matched by itself, its synonym groups, or (for a compound
    like 拆迁补偿 or 怎么申请) by all the words inside it. A word of the life-event
    lexicon (``related``) stands for the situation, so it weighs as much as its
    most specific document term, not its broadest."""

    text: str
    alternatives: list[tuple[str, float]]
    weight: float = 1.0
    parts: list[Concept] = field(default_factory=list)
    related: bool = False


@dataclass
class QueryPlan:
    text: str
    concepts: list[Concept] = field(default_factory=list)
    doc_numbers: list[DocNumber] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)  # parts of a document asked for (amount …)
    events: list[str] = field(default_factory=list)  # life events named, most mentioned first

    @property
    def empty(self) -> bool:
        return not self.concepts and not self.doc_numbers


class InvertedIndex:
    def __init__(
        self, analyzer: Analyzer, synonyms: Synonyms, lexicon: Lexicon | None = None
    ) -> None:
        self.analyzer = analyzer
        self.synonyms = synonyms
        self.lexicon = lexicon or Lexicon.load()
        self.slot_of: dict[tuple[str, str], int] = {}
        self.infos = DocTable()
        self._alive = np.zeros(1024, dtype=bool)
        self._prior = np.zeros(1024, dtype=np.float32)
        self.main: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.delta: dict[str, tuple[array, array]] = {}
        self.delta_docs = 0
        self.dead = 0
        self._len_sum = dict.fromkeys(FIELDS, 0.0)
        self._len_docs = 0
        self.docnos: dict[tuple[int, int], list[tuple[str, int]]] = {}
        self.interpretations_of: dict[str, list[int]] = {}  # policy id → interpretation slots
        self._counts: Counter[str] = Counter()
        self._bulk: dict[str, tuple[array, array]] = {}
        self.pins: dict[tuple[str, str], list[str]] = {}  # document → staff keywords

    # ------------------------------------------------------------------ size
    @property
    def n_slots(self) -> int:
        return len(self.infos)

    def __len__(self) -> int:
        return len(self.slot_of)

    def count(self, kind: str) -> int:
        return self._counts[kind]

    def nbytes(self) -> int:
        """Bytes held by postings and per-slot arrays (not Python object overhead)."""
        total = self._alive.nbytes + self._prior.nbytes
        total += sum(d.nbytes + w.nbytes for d, w in self.main.values())
        total += sum(d.itemsize * len(d) + len(w) for d, w in self.delta.values())
        return total

    # ------------------------------------------------------------------ analysis
    def analyse(self, doc: IndexDoc) -> Analysed:
        counts: dict[str, Counter[str]] = {}
        lengths: dict[str, int] = {}
        tokens_of = self.synonyms.tokens_of
        for name in FIELDS:
            value = doc.fields.get(name) or ""
            terms: list[str] = []
            if isinstance(value, str):
                terms = self.analyzer.index_tokens(normalize(value))
            else:
                for phrase in value:
                    phrase = normalize(str(phrase)).strip()
                    if not phrase:
                        continue
                    cut = self.analyzer.index_tokens(phrase)
                    terms.extend(cut)
                    if phrase not in cut:
                        terms.append(phrase)  # a keyword also matches as a whole
            lengths[name] = len(terms)
            if not terms:
                continue
            counter = Counter(terms)
            for term, tf in list(counter.items()):
                for group in tokens_of(term):
                    counter[group] += tf
            counts[name] = counter
        # Any kind whose hits show a 文号 (policies today) is found by it.
        docno = doc_number_key(doc.info.doc_number) if doc.info.doc_number else None
        return Analysed(doc.info, counts, lengths, docno)

    def _term_weights(self, a: Analysed) -> dict[str, int]:
        docs = max(self._len_docs, 1)
        tf_sum: dict[str, float] = {}
        for name, counter in a.counts.items():
            avg = self._len_sum[name] / docs or 1.0
            norm = WEIGHTS[name] / (1.0 - B[name] + B[name] * a.lengths[name] / avg)
            for term, tf in counter.items():
                tf_sum[term] = tf_sum.get(term, 0.0) + tf * norm
        return {term: max(1, round(255 * s / (K1 + s))) for term, s in tf_sum.items()}

    def _count_lengths(self, batch: Iterable[Analysed]) -> None:
        for a in batch:
            self._len_docs += 1
            for name in FIELDS:
                self._len_sum[name] += a.lengths.get(name, 0)

    # ------------------------------------------------------------------ writing
    def _new_slot(self, a: Analysed) -> int:
        slot = len(self.infos)
        if slot >= len(self._alive):
            grow = max(1024, len(self._alive))
            self._alive = np.concatenate([self._alive, np.zeros(grow, dtype=bool)])
            self._prior = np.concatenate([self._prior, np.zeros(grow, dtype=np.float32)])
        self.infos.append(a.info)
        self._alive[slot] = True
        self._prior[slot] = a.info.prior
        self.note_slot(a.info, a.docno, slot)
        for word in self.pins.get(a.info.key, ()):
            self._pin(word, slot)
        return slot

    def note_slot(self, info: DocInfo, docno: DocNumber | None, slot: int) -> None:
        """The lookup tables of a new slot (key, kind count, 文号, interpretations)."""
        self.slot_of[(sys.intern(info.kind), info.id)] = slot
        self._counts[info.kind] += 1
        if docno is not None:
            entry = (sys.intern(docno.prefix), slot)  # a few issuers share all the prefixes
            self.docnos.setdefault((docno.year, docno.number), []).append(entry)
        if info.kind == "interpretation" and info.policy_id:
            self.interpretations_of.setdefault(info.policy_id, []).append(slot)

    # ------------------------------------------------------------------ staff keywords
    def _pin(self, word: str, slot: int) -> None:
        pair = self.delta.get(pin_term(word))
        if pair is None:
            pair = self.delta[pin_term(word)] = (array("i"), array("B"))
        pair[0].append(slot)
        pair[1].append(255)

    def set_pins(self, pins: dict[tuple[str, str], list[str]]) -> None:
        """Replace staff's keywords: each pins a document to a word (matched
        through the lexicon, see ``bot.search.rules``), with no re-indexing."""
        for store in (self.main, self.delta):
            for term in [t for t in store if t.startswith(PIN)]:
                del store[term]
        self.pins = pins
        for key, words in pins.items():
            slot = self.slot_of.get(key)
            if slot is not None:
                for word in words:
                    self._pin(word, slot)

    def build_from(self, docs: Iterable[IndexDoc], chunk: int = 2000) -> None:
        """Bulk load into an empty index, a chunk at a time."""
        batch: list[IndexDoc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= chunk:
                self.bulk_add(batch)
                batch = []
        self.bulk_add(batch)
        self.finish_bulk()

    def bulk_add(self, docs: Sequence[IndexDoc]) -> None:
        """The start-up path: postings gather in compact arrays until
        ``finish_bulk``. Field length averages come from the documents seen so
        far (the whole first chunk to begin with), so only one chunk's term
        counts are ever in memory."""
        self._build_batch([self.analyse(d) for d in docs], self._bulk)

    def finish_bulk(self) -> None:
        for term, (slots, weights) in self._bulk.items():
            self.main[term] = (
                np.frombuffer(slots, dtype=np.int32).copy(),
                np.frombuffer(weights, dtype=np.uint8).copy(),
            )
        self._bulk = {}

    def _build_batch(self, analysed: list[Analysed], lists: dict[str, tuple[array, array]]) -> None:
        self._count_lengths(analysed)
        for a in analysed:
            if a.info.key in self.slot_of:
                self.remove(a.info.key)
            slot = self._new_slot(a)
            for term, w in self._term_weights(a).items():
                pair = lists.get(term)
                if pair is None:
                    pair = lists[term] = (array("i"), array("B"))
                pair[0].append(slot)
                pair[1].append(w)

    def add(self, a: Analysed) -> None:
        """Index one document (replacing its previous version) in the delta segment."""
        self.remove(a.info.key)
        self._count_lengths([a])
        slot = self._new_slot(a)
        for term, w in self._term_weights(a).items():
            pair = self.delta.get(term)
            if pair is None:
                pair = self.delta[term] = (array("i"), array("B"))
            pair[0].append(slot)
            pair[1].append(w)
        self.delta_docs += 1
        if self.delta_docs >= COMPACT_DELTA:
            self.compact()

    def remove(self, key: tuple[str, str]) -> bool:
        slot = self.slot_of.pop(key, None)
        if slot is None:
            return False
        self._alive[slot] = False
        self.infos.remove(slot)
        self._counts[key[0]] -= 1
        self.dead += 1
        if self.dead > COMPACT_DEAD_SHARE * max(len(self.slot_of), 1000):
            self.compact()
        return True

    def compact(self) -> None:
        """Fold the delta segment into the arrays and drop dead postings (slots keep their numbers)."""
        alive = self._alive
        merged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term in set(self.main) | set(self.delta):
            slots, weights = self.main.get(term, (None, None))
            extra = self.delta.get(term)
            if extra is not None:
                ds = np.frombuffer(extra[0], dtype=np.int32)
                dw = np.frombuffer(extra[1], dtype=np.uint8)
                slots = ds.copy() if slots is None else np.concatenate([slots, ds])
                weights = dw.copy() if weights is None else np.concatenate([weights, dw])
            assert slots is not None and weights is not None
            if self.dead:
                keep = alive[slots]
                if not keep.all():
                    slots, weights = slots[keep], weights[keep]
            if len(slots):
                merged[term] = (slots, weights)
        self.main = merged
        self.delta = {}
        self.delta_docs = 0
        if self.dead:
            self.docnos = {k: [(p, s) for p, s in v if alive[s]] for k, v in self.docnos.items()}
            self.interpretations_of = {
                k: [s for s in v if alive[s]] for k, v in self.interpretations_of.items()
            }
        self.dead = 0

    # ------------------------------------------------------------------ reading
    def info(self, slot: int) -> DocInfo | None:
        return self.infos[slot] if 0 <= slot < len(self.infos) else None

    def df(self, term: str) -> int:
        n = 0
        main = self.main.get(term)
        if main is not None:
            n += len(main[0])
        extra = self.delta.get(term)
        if extra is not None:
            n += len(extra[0])
        return n

    def idf(self, df: int) -> float:
        n = max(self.n_slots, 1)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def plan(self, query: str) -> QueryPlan:
        """Turn what the resident typed into concepts (see the module docstring).

        Everyday words of the life-event lexicon become one concept each whose
        alternatives are the document terms they stand for; intent phrases
        (多少钱, 去哪办) are set aside for the passage; the other words are
        weighted by their part of speech. Single characters the index knows are
        dropped when the query has longer words: in a Chinese question they are
        mostly verbs and particles (交, 花, 住) that jieba split off, and would
        match almost any document. One the index has never seen (狗) stays: it
        is what the catalog lacks."""
        text = normalize(query)
        numbers = find_doc_numbers(text)
        for number in reversed(numbers):
            text = text[: number.start] + " " + text[number.end :]
        understood = self.lexicon.understand(text)
        text = understood.text
        plan = QueryPlan(text=text.strip(), doc_numbers=numbers, intents=understood.intents)
        words = self._inside_known_words(text)
        rest = list(text)
        kept_events: list[str] = []
        for start, end, relation in understood.relations:
            if any(s <= start and end <= e and (s, e) != (start, end) for s, e in words):
                continue  # part of a longer word the documents use: that word answers it
            plan.concepts.append(self._related_concept(relation.key, relation.terms))
            kept_events.append(relation.event)
            rest[start:end] = " " * (end - start)
        for start, end in understood.asks:
            rest[start:end] = " " * (end - start)
        plan.events = sorted(set(kept_events), key=lambda e: (-kept_events.count(e), e))
        tagged = list(dict.fromkeys(self.analyzer.tagged_query_tokens("".join(rest))))
        if plan.concepts or any(len(t) > 1 and not t.isdigit() for t, _f in tagged):
            tagged = [(t, f) for t, f in tagged if len(t) > 1 or not self.df(t)]
        spoken = len(text) >= SPOKEN_LENGTH and any(c.related for c in plan.concepts)
        narration = NARRATION_FACTOR if spoken else 1.0
        for token, flag in tagged:
            weight = self._pos_weight(token, flag)
            if not self.df(token):
                weight *= narration
            self._add_concept(plan, token, weight)
        return plan

    def weighted_terms(self, plan: QueryPlan) -> list[tuple[str, float]]:
        """The plan's words as plain text with the weight each carries in ranking
        (synonym groups spelled out), for finding the sentence that answers."""
        out: dict[str, float] = {}
        for concept in plan.concepts:
            for alt, factor in concept.alternatives:
                weight = self.idf(self.df(alt)) * factor * concept.weight if self.df(alt) else 0.0
                if not weight:
                    continue
                words = self.synonyms.group_terms(alt) if alt.startswith("~") else (alt,)
                for word in words:
                    out[word] = max(out.get(word, 0.0), weight)
        for number in re.findall(r"\d+", plan.text):  # 90岁, 2025年: which row of a table
            out.setdefault(number, self.idf(1) * NUMBER_FACTOR)
        return list(out.items())

    def _inside_known_words(self, text: str) -> list[tuple[int, int]]:
        """Spans of jieba tokens documents answer (a lexicon key inside one is skipped)."""
        spans = []
        for word, start, end in self.analyzer.tokenizer.tokenize(text):
            if len(word) > 2 and any(self.df(t) for t, _f in self._alternatives(word)):
                spans.append((start, end))  # the word, or a synonym of it, is in documents
        return spans

    def _pos_weight(self, token: str, flag: str) -> float:
        if token in self.analyzer.generic:
            return GENERIC_WEIGHT
        if self.analyzer.is_domain_word(token) or not self.analyzer.frequency(token):
            return 1.0
        if flag in FULL_POS or flag.startswith("n"):
            return 1.0
        weight = POS_WEIGHT.get(flag, POS_WEIGHT.get(flag[:1], 1.0))
        if flag[:1] in "av" and not self.df(token):
            # A verb or adjective no document uses (预约, 贵) may be what the catalog
            # lacks: it keeps most of its weight so such a query still finds nothing.
            return max(weight, UNSEEN_CONTENT_WEIGHT)
        return weight

    def _related_concept(self, key: str, terms: Sequence[str]) -> Concept:
        alternatives = dict(self._alternatives(key))
        for term in terms:
            if term.startswith(PIN):  # a document staff pinned to this word answers it fully
                alternatives[term] = 1.0
                continue
            for alt, factor in self._alternatives(term):
                alternatives[alt] = max(alternatives.get(alt, 0.0), factor * RELATED_FACTOR)
        # Only a word the documents do not use stands for the situation as a whole;
        # one they use (报名, 保险) is as broad as it is there.
        return Concept(key, list(alternatives.items()), related=not self.df(key))

    def _add_concept(self, plan: QueryPlan, token: str, weight: float = 1.0) -> None:
        concept = self._concept(token)
        concept.weight *= weight
        concept.parts = [self._concept(w) for w in self._parts(token)]
        plan.concepts.append(concept)

    def _alternatives(self, token: str) -> list[tuple[str, float]]:
        return [(token, 1.0)] + [(g, SYNONYM_FACTOR) for g in self.synonyms.tokens_of(token)]

    def _concept(self, token: str) -> Concept:
        short = len(token) == 1 or token.isdigit()
        return Concept(token, self._alternatives(token), SHORT_WORD_FACTOR if short else 1.0)

    def _parts(self, token: str) -> list[str]:
        """The words a compound is made of (拆迁补偿 → 拆迁, 补偿; 怎么申请 → 申请)."""
        return [
            w
            for w in self.analyzer.split_compound(token)
            if len(w) > 1 and w not in self.analyzer.stopwords
        ]

    def _best(self, concept: Concept, n: int) -> tuple[np.ndarray | None, int]:
        """Per slot, the best weight among a concept's alternatives; and the df its
        idf is taken from (the broadest; for a lexicon word, the most specific)."""
        dfs = [self.df(t) for t, _ in concept.alternatives]
        live = [(t, g) for (t, g), d in zip(concept.alternatives, dfs, strict=True) if d]
        best = None
        if live:
            best = np.zeros(n, dtype=np.float32)
            for term, factor in live:
                self._max_into(best, term, factor)
        if concept.related:
            return best, min((d for d in dfs if d), default=0)
        return best, max(dfs)

    def _max_into(self, best: np.ndarray, term: str, factor: float) -> None:
        main = self.main.get(term)
        if main is not None:
            slots, weights = main
            best[slots] = np.maximum(best[slots], _LEVELS[weights] * np.float32(factor))
        extra = self.delta.get(term)
        if extra is not None:
            for slot, w in zip(extra[0], extra[1], strict=True):
                best[slot] = max(best[slot], _LEVELS[w] * factor)

    def score(self, plan: QueryPlan) -> tuple[np.ndarray, np.ndarray]:
        """(coverage, coverage · prior) per slot; dead slots score 0."""
        n = self.n_slots
        total = np.zeros(n, dtype=np.float32)
        denominator = 0.0
        for concept in plan.concepts:
            best, broadest = self._best(concept, n)
            if concept.parts:
                # A compound matches through its words only where all of them occur
                # (拆迁补偿 in a text saying 房屋征收…补偿; not 危房改造 in one saying 厕所改造).
                found = [b for b in (self._best(p, n)[0] for p in concept.parts) if b is not None]
                if found and len(found) == len(concept.parts):
                    every = np.minimum.reduce(found) * np.float32(PARTS_FACTOR)
                    best = every if best is None else np.maximum(best, every)
            idf = self.idf(broadest) * concept.weight
            denominator += idf
            if best is not None:
                total += np.float32(idf) * best
        if plan.doc_numbers:
            idf = self.idf(1)
            for number in plan.doc_numbers:
                denominator += idf
                for prefix, slot in self.docnos.get((number.year, number.number), ()):
                    strength = _docno_strength(number.prefix, prefix)
                    if strength and self._alive[slot]:
                        total[slot] += idf * strength
        if denominator <= 0:
            zero = np.zeros(n, dtype=np.float32)
            return zero, zero
        coverage = total / np.float32(denominator)
        coverage *= self._alive[:n]
        return coverage, coverage * self._prior[:n]


def pin_term(word: str) -> str:
    return PIN + normalize(word).strip()


def _docno_strength(typed: str, own: str) -> float:
    """How well the issuer characters typed before the year fit the document's."""
    if not own:
        return DOCNO_PARTIAL
    if typed.endswith(own):
        return 1.0
    if typed and own.endswith(typed) and len(typed) >= 2:
        return 0.8
    if not typed or not any("\u4e00" <= c <= "\u9fff" for c in typed[-1:]):
        return DOCNO_PARTIAL
    return 0.0
