"""Triage of an incoming customer message: intent, urgency, sentiment, entities, priority.

Plain module (no ORM), cheap on CPU (well under a millisecond per message after training):
- intent: a small multinomial logistic regression over hashed character n-grams (2-4) and
  words, trained from labelled messages (bench/data/triage_messages.jsonl, the editable
  taxonomy's examples and agents' corrections; support/triage_store.py feeds it). Character
  n-grams work across the languages we support without a multilingual model; the bundled
  MiniLM embedder is English-only and costs 2-11 ms per message, most of the 10 ms budget;
- safety comes from generation.safety's rules (tested on look-alikes), never from the
  classifier alone: a hazard is intent "safety" and priority URGENT, whatever else it says;
- urgency and sentiment by rules (anger/frustration words in five languages, "!!!", capitals,
  urgency words, repeated contact), entities by rules (model numbers, order numbers, error
  codes, OS and firmware versions), each with a confidence.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from generation import safety
from support import smalltalk

# Priority levels, as support.models.Conversation.Priority (lower sorts first).
URGENT, HIGH, NORMAL, LOW = 0, 1, 2, 3
PRIORITY_NAMES = {URGENT: "urgent", HIGH: "high", NORMAL: "normal", LOW: "low"}

# The default taxonomy: name -> (label, base priority). Editors extend it (TriageIntent).
DEFAULT_INTENTS: dict[str, tuple[str, int]] = {
    "safety": ("Safety hazard", URGENT),
    "complaint": ("Complaint", HIGH),
    "human_request": ("Asks for a person", HIGH),
    "troubleshooting": ("Troubleshooting", NORMAL),
    "returns_refunds": ("Returns and refunds", NORMAL),
    "order_delivery": ("Order and delivery", NORMAL),
    "account_billing": ("Account and billing", NORMAL),
    "how_to": ("How-to", LOW),
    "greeting": ("Greeting or thanks", LOW),
}

HIGH_CONFIDENCE = 0.7
MEDIUM_CONFIDENCE = 0.45


@dataclass(frozen=True)
class Entity:
    type: str  # model, order_number, error_code, os_version, firmware_version
    value: str
    start: int
    end: int
    confidence: float


@dataclass
class Triage:
    intent: str
    intent_confidence: float
    confidence_band: str  # "high", "medium" or "low"
    urgency: str  # "urgent", "high", "normal", "low"
    sentiment: str  # "negative", "neutral", "positive"
    sentiment_score: float  # -1 .. 1
    priority: int
    language: str
    entities: list[Entity] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)  # why urgency/sentiment are what they are
    scores: dict[str, float] = field(default_factory=dict)  # intent probabilities (top 3)
    safety: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain JSON-ready data (stored on the message, returned by the API)."""
        data = asdict(self)
        data["priority_name"] = PRIORITY_NAMES.get(self.priority, str(self.priority))
        return data


# --- features and the classifier ---------------------------------------------------------
_DIM = 1 << 14
CUE_WEIGHT = 0.5
_NEGATIVE_PATTERN = (
    r"\b(?:terrible|useless|ridiculous|unacceptable|worst|awful|horrible|pathetic|fed up|angry|"
    r"furious|annoyed|frustrat\w*|disappoint\w*|joke|scam|rip[- ]?off|waste of|never buy|"
    r"third time|fourth time|again and again|still (?:not|no|nothing|waiting|broken)|nobody|"
    r"no one|no-one|waiting for (?:weeks|days|hours|an hour|two weeks)|on hold|rude|complaint|"
    r"lawyer|sue|refuse|fix this now|pesimo|enfadad\w*|hart[oa]|inaceptable|nadie|tercera vez|"
    r"verguenza|frechheit|enttauscht|unverschamt|niemand|schon wieder|dritte mal|katastrophe|"
    r"inadmissible|lamentable|decu\w*|personne ne|marre|honteu\w*|scandal\w*)\b|"
    r"太差|投诉|生气|垃圾|没人|失望|气死|骗子"
)

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


# Cue words per intent (five languages), added as features of their own: with ~300 examples
# the n-grams alone cannot learn that "devolver", "zuruckgeben" and "退货" mean a return.
_CUES: dict[str, re.Pattern] = {
    intent: re.compile(pattern)
    for intent, pattern in {
        "returns_refunds": r"\b(?:return\w*|refund\w*|exchange|send (?:it )?back|money back|"
        r"return label|devol\w*|reembols\w*|cambiar por|zuruck\w*|rucksend\w*|erstatt\w*|"
        r"geld zuruck|umtausch\w*|retour\w*|rembours\w*|echange\w*|renvoyer)\b|退货|退款|换货|退钱",
        "order_delivery": r"\b(?:order\w*|deliver\w*|shipping|shipped|tracking|courier|driver|"
        r"arriv\w*|dispatch\w*|pedido|entrega|envio|llega\w*|bestell\w*|liefer\w*|versand|"
        r"sendung|commande|livr\w*|colis|expedi\w*)\b|订单|送到|快递|物流|收货|发货",
        "account_billing": r"\b(?:account|password|sign in|log ?in|charged|charge|billing|invoice|"
        r"payment|subscription|card|cancel (?:my )?subscription|verification|cuenta|contrasena|"
        r"cobr\w*|factura|suscripcion|pago|konto|passwort|abgebucht|rechnung|abo\w*|zahlung|"
        r"kundig\w*|compte|mot de passe|debit\w*|factur\w*|abonnement|paiement|resilier)\b|"
        r"账户|账号|密码|扣|订阅|付款|发票",
        "complaint": _NEGATIVE_PATTERN,
        "human_request": r"\b(?:real person|human|agent|representative|someone|person|operator|"
        r"call me|phone number|customer service|persona|agente|mitarbeiter|menschen|conseiller|"
        r"humain|operateur)\b|人工|客服",
        "troubleshooting": r"\b(?:won'?t|doesn'?t|does not|not working|stopped|no (?:sound|signal|"
        r"picture)|error|broke\w*|keeps|fail\w*|stuck|flicker\w*|black|not receiving|crash\w*|"
        r"fix|issue|problem|greyed|grayed|disconnect\w*|no enciende|no funciona|no hay|parpadea|"
        r"geht nicht|kein|flackert|reagiert nicht|fehler\w*|ne s'allume|pas de son|floue?|"
        r"erreur|ne marche)\b|开不了|没有声音|闪烁|没反应|不能|坏了|故障",
        "how_to": r"\b(?:how (?:do|can|to)|where (?:is|can|do)|can i|is there a way|what is|"
        r"como|donde|wie|wo finde|comment|ou se|est-ce que)\b|怎么|如何|在哪",
    }.items()
}


def _features(text: str, *, norm: str | None = None) -> dict[int, float]:
    norm = safety.normalize(text) if norm is None else norm
    counts: dict[int, float] = {}
    padded = f" {norm} "
    for n in (2, 3, 4):
        for i in range(len(padded) - n + 1):
            key = zlib.crc32(padded[i : i + n].encode()) & (_DIM - 1)
            counts[key] = counts.get(key, 0.0) + 1.0
    for word in _TOKEN_RE.findall(norm):
        key = zlib.crc32(b"w:" + word.encode()) & (_DIM - 1)
        counts[key] = counts.get(key, 0.0) + 2.0
    for key, value in counts.items():
        counts[key] = 1.0 + math.log(value)
    norm2 = math.sqrt(sum(v * v for v in counts.values())) or 1.0
    features = {k: v / norm2 for k, v in counts.items()}
    cued = [intent for intent, cue in _CUES.items() if cue.search(norm)]
    if smalltalk.opens_with_greeting(norm):  # the one greeting detector (support.smalltalk)
        cued.append("greeting")
    for intent in cued:
        key = zlib.crc32(b"cue:" + intent.encode()) & (_DIM - 1)
        features[key] = features.get(key, 0.0) + CUE_WEIGHT
    return features


def _matrix(texts: Sequence[str]) -> np.ndarray:
    x = np.zeros((len(texts), _DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for key, value in _features(text).items():
            x[row, key] = value
    return x


class IntentClassifier:
    """Multinomial logistic regression over hashed n-grams; train() then predict()."""

    def __init__(self, labels: Sequence[str], weights: np.ndarray, bias: np.ndarray) -> None:
        self.labels = list(labels)
        self.weights = weights  # (_DIM, n_labels)
        self.bias = bias

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        epochs: int = 150,
        learning_rate: float = 4.0,
        l2: float = 1e-4,
    ) -> IntentClassifier:
        """Full-batch gradient descent on the softmax loss (about a second for 300 texts)."""
        from scipy import sparse  # a dependency of sentence-transformers' scikit-learn

        names = sorted(set(labels))
        index = {name: i for i, name in enumerate(names)}
        x = sparse.csr_matrix(_matrix(texts))
        xt = x.T.tocsr()
        y = np.zeros((len(texts), len(names)), dtype=np.float32)
        y[np.arange(len(texts)), [index[label] for label in labels]] = 1.0
        # Balance the classes: a rare intent counts as much as a common one.
        class_weight = len(texts) / (len(names) * np.maximum(y.sum(axis=0), 1.0))
        sample_weight = (y * class_weight).sum(axis=1, keepdims=True)
        w = np.zeros((_DIM, len(names)), dtype=np.float32)
        b = np.zeros(len(names), dtype=np.float32)
        for _ in range(epochs):
            logits = x @ w + b
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            grad = (p - y) * sample_weight / len(texts)
            w -= learning_rate * (xt @ grad + l2 * w)
            b -= learning_rate * grad.sum(axis=0)
        return cls(names, w, b)

    def predict_proba(self, text: str, *, norm: str | None = None) -> dict[str, float]:
        features = _features(text, norm=norm)
        keys = np.fromiter(features.keys(), dtype=np.int64, count=len(features))
        values = np.fromiter(features.values(), dtype=np.float32, count=len(features))
        logits = values @ self.weights[keys] + self.bias
        logits -= logits.max()
        p = np.exp(logits)
        p /= p.sum()
        return {label: float(p[i]) for i, label in enumerate(self.labels)}


# --- urgency and sentiment ----------------------------------------------------------------
_NEGATIVE = re.compile(_NEGATIVE_PATTERN)
_POSITIVE = re.compile(
    r"\b(?:thanks?|thank you|great|love|awesome|perfect|excellent|helpful|appreciate\w*|"
    r"gracias|genial|danke|super|toll|merci|parfait|genial)\b|谢谢|感谢|太好了",
)
_URGENT_WORDS = re.compile(
    r"\b(?:urgent\w*|asap|immediately|right now|emergency|as soon as possible|today|tonight|"
    r"dringend|sofort|notfall|urgente|inmediato|ahora mismo|tout de suite|immediatement)\b|"
    r"紧急|马上|急",
)
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
_MODEL_LIKE = re.compile(
    r"\b[A-Z]{2}\d{2}[A-Z0-9]{3,}\b|\b(?:SM|HW)-[A-Z0-9]+\b|\bHDMI|\bHDR|\bUSB"
)


def _sentiment(text: str, norm: str, previous_contacts: int) -> tuple[str, float, list[str]]:
    signals: list[str] = []
    score = 0.0
    negative = _NEGATIVE.findall(norm)
    if negative:
        score -= min(1.0, 0.45 * len(negative))
        signals.append("negative words: " + ", ".join(dict.fromkeys(negative))[:80])
    if text.count("!") >= 2:
        score -= 0.25
        signals.append("exclamation marks")
    caps = [w for w in _CAPS_WORD.findall(_MODEL_LIKE.sub(" ", text)) if len(w) >= 3]
    if len(caps) >= 2:
        score -= 0.25
        signals.append("shouting (capitals)")
    if previous_contacts >= 2:
        score -= 0.3
        signals.append(f"repeated contact ({previous_contacts} earlier)")
    if _POSITIVE.search(norm) and not negative:
        score += 0.5
        signals.append("positive words")
    score = max(-1.0, min(1.0, score))
    label = "negative" if score <= -0.4 else "positive" if score >= 0.4 else "neutral"
    return label, round(score, 2), signals


# --- entities -----------------------------------------------------------------------------
_ENTITY_RULES: list[tuple[str, re.Pattern, float, int]] = [
    # (type, pattern, confidence, group holding the value)
    (
        "model",
        re.compile(
            r"\b(SM-[A-Z]\d{3}[A-Z0-9]{0,4}|HW-[A-Z]\d{2,4}[A-Z]?|"
            r"(?:QN|UN|QE|UE|GQ|GU|QA|UA|LS|LH|KS|KU|NU|RU|TU)\d{2}[A-Z]{1,3}\d{1,4}[A-Z0-9]{0,8})\b"
        ),
        0.95,
        1,
    ),
    (
        "model",
        re.compile(r"(?i)\bmodel(?: number| no\.?|nummer)?\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{4,19})\b"),
        0.7,
        1,
    ),
    (
        "os_version",
        re.compile(
            r"(?i)\b((?:android|one ?ui|tizen|ios|ipados|windows|macos|wear ?os)"
            r"\s*v?\d+(?:\.\d+)*)\b"
        ),
        0.9,
        1,
    ),
    (
        "firmware_version",
        re.compile(
            r"(?i)\b(?:firmware|software|sw|fw|version)(?: version| update)?\s*[:#]?\s*v?"
            r"(\d{3,5}(?:\.\d+)*|\d+\.\d+(?:\.\d+)*)\b"
        ),
        0.85,
        1,
    ),
    (
        "order_number",
        re.compile(
            r"(?i)(?:\border|\bpedido|\bbestellung|\bcommande|订单)\s*(?:number|no\.?|nr\.?|nummer|"
            r"numero|n°|号)?\s*[:#]?\s*([A-Z]{0,3}-?\d[\d-]{5,14}\d)\b"
        ),
        0.9,
        1,
    ),
    ("order_number", re.compile(r"(?<![\w#])#(\d{6,12})\b"), 0.6, 1),
    (
        "error_code",
        re.compile(
            r"(?i)(?:\berror|\bcode|\bfehlercode|\bcodigo|\bcode erreur|\berr|错误代码|错误码)"
            r"(?: code)?\s*[:#]?\s*(0x[0-9a-f]{4,8}|[A-Z]{0,3}-?\d{1,4}(?:-\d{1,4})*)\b"
        ),
        0.9,
        1,
    ),
    ("error_code", re.compile(r"(?i)\b(0x[0-9a-f]{6,8})\b"), 0.8, 1),
]


def extract_entities(text: str) -> list[Entity]:
    """Model numbers, order numbers, error codes, OS/firmware versions, non-overlapping."""
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern, confidence, group in _ENTITY_RULES:
        for match in pattern.finditer(text):
            start, end = match.span(group)
            if any(start < e and s < end for s, e in taken):
                continue
            value = match.group(group).strip()
            if kind == "os_version":
                value = " ".join(value.split())
            found.append(Entity(kind, value, start, end, confidence))
            taken.append((start, end))
    found.sort(key=lambda e: e.start)
    return found


# --- the triage ---------------------------------------------------------------------------
def priority_for(*, intent: str, urgency: str, intents: dict[str, tuple[str, int]]) -> int:
    """Priority from intent + urgency: safety first, pressure moves a message up one level.

    Only a hazard (intent "safety", urgency "urgent") is URGENT; an editor's own intent may
    have a base priority of HIGH at most, so nothing else can sit beside a safety case.
    """
    if intent == "safety" or urgency == "urgent":
        return URGENT
    base = intents.get(intent, ("", NORMAL))[1]
    return max(HIGH, base - 1) if urgency == "high" else max(HIGH, base)


def _band(confidence: float) -> str:
    if confidence >= HIGH_CONFIDENCE:
        return "high"
    return "medium" if confidence >= MEDIUM_CONFIDENCE else "low"


def triage(
    text: str,
    *,
    classifier: IntentClassifier | None,
    intents: dict[str, tuple[str, int]] | None = None,
    previous_contacts: int = 0,
) -> Triage:
    """Triage one customer message (see the module docstring)."""
    intents = intents or DEFAULT_INTENTS
    text = text or ""
    norm = safety.normalize(text)
    verdict = safety.assess(text)
    if classifier is not None and norm:
        probs = classifier.predict_proba(text, norm=norm)
    else:
        probs = {"troubleshooting": 0.0}
    ranked = sorted(probs.items(), key=lambda kv: -kv[1])
    if verdict.hazard:
        intent, confidence = "safety", max(verdict.confidence, probs.get("safety", 0.0))
    else:
        # The rules, tested on look-alikes, have the last word on safety.
        ranked = [kv for kv in ranked if kv[0] != "safety"] or [("troubleshooting", 0.0)]
        total = sum(p for _, p in ranked) or 1.0
        intent, confidence = ranked[0][0], ranked[0][1] / total
    sentiment, sentiment_score, signals = _sentiment(text, norm, previous_contacts)
    urgent_words = bool(_URGENT_WORDS.search(norm))
    if urgent_words:
        signals.append("urgency words")
    base = intents.get(intent, ("", NORMAL))[1]
    if verdict.hazard:
        urgency = "urgent"
        signals.insert(0, f"safety rule {verdict.rule}")
    else:
        pressing = urgent_words or sentiment == "negative" or previous_contacts >= 2
        urgency = "high" if pressing else ("low" if base == LOW else "normal")
    priority = priority_for(intent=intent, urgency=urgency, intents=intents)
    language = verdict.language or safety.detect_language(text)[0]
    return Triage(
        intent=intent,
        intent_confidence=round(float(confidence), 3),
        confidence_band=_band(float(confidence)),
        urgency=urgency,
        sentiment=sentiment,
        sentiment_score=sentiment_score,
        priority=priority,
        language=language,
        entities=extract_entities(text),
        signals=signals,
        scores={k: round(v, 3) for k, v in ranked[:3]},
        safety=verdict.to_dict() if verdict.hazard else {},
    )


def train_default(rows: Iterable[dict]) -> IntentClassifier:
    """A classifier from rows with "text" and "intent"."""
    rows = [r for r in rows if r.get("text") and r.get("intent")]
    return IntentClassifier.train([r["text"] for r in rows], [r["intent"] for r in rows])
