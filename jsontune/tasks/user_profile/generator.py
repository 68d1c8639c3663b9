"""Synthetic professional biographies with exact, rule-derived profile labels.

Each biography is built from one core phrasing template per primary role (``template`` id such as
``"Data Scientist/07"``) plus shared clutter: an e-mail sentence (or none), distractor numbers (age,
team size, graduation year, years at the current company, years lived somewhere), a previous role,
other people's names and e-mail addresses, skills the person is only *learning*, tools outside the
skill pool, headers, sign-offs, emoji, typos and casing. The caller splits on template ids, so test
phrasings are never seen in training.

Label rules (the same text lives in README.md):

full_name
    The person the biography is about, as written (case kept); never a manager, mentor or recruiter.
email
    The person's own address as written; ``null`` when the text gives none. Team, company and
    recruiter addresses are never the person's.
years_of_experience
    The total years of professional experience the text states ("8 years", "eight years", "8+ years",
    "over 8 years" -> 8; "a decade" -> 10; "less than a year", "fresh graduate" -> 0). Age, years at
    the current company, years lived somewhere, study years and graduation years never count.
skills
    The pool skills (schema enum) the person has, in the pool's spelling, in order of first mention,
    each once. Aliases map to the pool name (Postgres -> PostgreSQL, k8s -> Kubernetes, Golang -> Go,
    sklearn -> scikit-learn, JS -> JavaScript, TS -> TypeScript, Node -> Node.js). Skills the person is
    learning, wants to learn or has no experience with, and tools outside the pool, are not skills.
primary_role
    The person's current role; earlier roles ("started out as ...", "before that ...") do not count.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsontune.schema import canonical, is_valid, load_schema, schema_errors

SCHEMA_PATH = Path(__file__).with_name("schema.json")
SCHEMA: dict[str, Any] = load_schema(SCHEMA_PATH)
ROLES: tuple[str, ...] = tuple(SCHEMA["properties"]["primary_role"]["enum"])
SKILL_POOL: tuple[str, ...] = tuple(SCHEMA["properties"]["skills"]["items"]["enum"])

# How each role is written in prose; the template decides the sentence, these vary the noun phrase.
ROLE_PHRASES: dict[str, list[str]] = {
    "Backend Engineer": ["backend engineer", "back-end developer", "backend developer", "server-side engineer",
                         "API engineer", "backend software engineer"],
    "Frontend Engineer": ["frontend engineer", "front-end developer", "frontend developer", "UI engineer",
                          "web UI developer", "front-end engineer"],
    "Data Scientist": ["data scientist", "applied data scientist", "senior data scientist",
                       "data scientist (ML)", "lead data scientist"],
    "DevOps Engineer": ["DevOps engineer", "site reliability engineer", "SRE", "platform engineer",
                        "infrastructure engineer", "DevOps specialist"],
    "Product Manager": ["product manager", "PM", "product owner", "senior product manager",
                        "technical product manager"],
}
# Skills a person in each role typically lists; a few cross-role ones are mixed in.
ROLE_SKILLS: dict[str, list[str]] = {
    "Backend Engineer": ["Python", "Java", "Go", "Rust", "C++", "Node.js", "Django", "Flask", "Spring", "GraphQL",
                         "SQL", "PostgreSQL", "MySQL", "MongoDB", "Redis", "Kafka", "Docker", "AWS", "Linux"],
    "Frontend Engineer": ["TypeScript", "JavaScript", "React", "Vue", "Angular", "HTML", "CSS", "GraphQL",
                          "Node.js", "Figma", "Jira"],
    "Data Scientist": ["Python", "R", "SQL", "Pandas", "PyTorch", "TensorFlow", "scikit-learn", "Spark",
                       "Tableau", "PostgreSQL", "AWS", "GCP"],
    "DevOps Engineer": ["Docker", "Kubernetes", "Terraform", "Ansible", "AWS", "GCP", "Azure", "Linux",
                        "Jenkins", "Prometheus", "Python", "Go"],
    "Product Manager": ["Jira", "Figma", "SQL", "Tableau", "Python"],
}
# Alternative spellings that the label maps back to the pool name.
ALIASES: dict[str, list[str]] = {
    "PostgreSQL": ["Postgres", "postgres"], "Kubernetes": ["k8s", "K8s"], "Go": ["Golang"],
    "scikit-learn": ["sklearn"], "JavaScript": ["JS"], "TypeScript": ["TS"], "Node.js": ["Node", "NodeJS"],
}
CASE_SENSITIVE = frozenset({"R", "Go"})
NON_POOL_TOOLS = ["Excel", "Notion", "Slack", "Photoshop", "Confluence", "Miro", "PowerPoint", "Salesforce",
                  "Zapier", "Airtable"]

# Core phrasings per role. Slots: {name} full name, {first} first name, {role} a role phrase,
# {years} an experience phrase ("8 years"), {skills} a prose list of skills, {company}, {city}.
_TEMPLATES: dict[str, list[str]] = {
    "Backend Engineer": [
        "I'm {name}, a {role} with {years} of experience. Most of my work is in {skills}.",
        "{name} is a {role} at {company}. {first} has {years} of experience building APIs with {skills}.",
        "Hi! My name is {name}. I've been a {role} for {years}, mainly using {skills}.",
        "Candidate: {name}. Current role: {role}. Experience: {years}. Stack: {skills}.",
        "{name} builds payment and billing services as a {role} in {city}. Over {years} in the industry, "
        "{first} has shipped production systems in {skills}.",
        "hey, {name} here - {role}, {years} in, comfortable with {skills}",
        "{first} ({name}) designs databases and message queues for a living. As a {role} with {years} "
        "behind them, their toolbox is {skills}.",
        "Seasoned {role} with {years} of professional experience. Strong background in {skills}. "
        "Name: {name}.",
        "My name's {name} and I write the server code nobody sees. {years} as a {role} so far; I reach for "
        "{skills} first.",
        "{name} - {role} at {company} with {years} of experience scaling high-traffic services using {skills}.",
        "Meet {name}, our new {role}! {first} joins with {years} of experience and loves {skills}.",
        "Profile summary for {name}: {role}, {years} of hands-on experience, core skills {skills}.",
        "I am {name}. For {years} I have worked as a {role}, designing REST and event-driven systems with "
        "{skills}.",
    ],
    "Frontend Engineer": [
        "I'm {name}, a {role} with {years} of experience crafting interfaces in {skills}.",
        "{name} is a {role} at {company} who cares about accessibility. {first} has {years} of experience "
        "with {skills}.",
        "Hello, I'm {name}! {role} for {years}; my daily tools are {skills}.",
        "Candidate: {name} | Role: {role} | Experience: {years} | Skills: {skills}",
        "{name} turns designs into pixel-perfect web apps. A {role} for {years}, {first} works mostly with "
        "{skills}.",
        "yo i'm {name}, {role}, been doing this {years}. i mostly write {skills}",
        "As a {role}, {name} has spent {years} building design systems and dashboards with {skills}.",
        "Detail-oriented {role} ({years} of experience) specialising in {skills}. - {name}",
        "My name is {name}. I've worked as a {role} for {years}, shipping single-page apps in {skills}.",
        "{name}, {role} based in {city}. {years} of experience. Favourite tools: {skills}.",
        "Say hi to {name}, who joined the web team as a {role}. {first} brings {years} of experience in "
        "{skills}.",
        "I build the parts of the product people click on. I'm {name}, a {role} with {years} under my belt, "
        "fluent in {skills}.",
    ],
    "Data Scientist": [
        "I'm {name}, a {role} with {years} of experience in forecasting and experimentation using {skills}.",
        "{name} is a {role} at {company}. {first} has {years} of experience modelling churn with {skills}.",
        "Hi, I'm {name}. I've been a {role} for {years} and I mostly work in {skills}.",
        "Candidate: {name}. Current title: {role}. Years of experience: {years}. Tools: {skills}.",
        "{name} builds recommendation models as a {role}. With {years} of experience, {first} relies on "
        "{skills}.",
        "{name} here, {role}, {years} of wrangling data. go-to stack is {skills}",
        "A {role} with {years} in industry, {name} has published work on causal inference and uses {skills} "
        "every day.",
        "Curious {role} with {years} of professional experience in NLP and tabular data. Skills: {skills}. "
        "Name: {name}.",
        "My name is {name}. After a PhD I spent {years} as a {role}, building models in {skills}.",
        "{name} - {role} in {city}, {years} of experience, works with {skills}.",
        "Welcome {name}, who joins the analytics group as a {role} with {years} of experience in {skills}!",
        "I help teams make decisions from data. I'm {name}, a {role} with {years} of experience and a soft "
        "spot for {skills}.",
    ],
    "DevOps Engineer": [
        "I'm {name}, a {role} with {years} of experience automating infrastructure with {skills}.",
        "{name} is a {role} at {company}. {first} has {years} of experience running clusters with {skills}.",
        "Hi there, I'm {name}. {role} for {years}, mostly {skills}.",
        "Candidate: {name} / Role: {role} / Experience: {years} / Stack: {skills}",
        "{name} keeps the lights on as a {role}. In {years} of on-call life, {first} has relied on {skills}.",
        "{name} here. {role}. {years}. i live in {skills} all day",
        "As a {role} with {years} of experience, {name} has migrated three data centres to the cloud using "
        "{skills}.",
        "Reliability-focused {role} with {years} of professional experience. Toolbox: {skills}. - {name}",
        "My name is {name}, and I've worked as a {role} for {years}, building CI pipelines with {skills}.",
        "{name}, {role}, {city}. {years} of experience with {skills}.",
        "Please welcome {name}, our new {role}! {first} brings {years} of experience with {skills}.",
        "I make deploys boring. I'm {name}, a {role} with {years} of experience in {skills}.",
    ],
    "Product Manager": [
        "I'm {name}, a {role} with {years} of experience leading B2B products. I use {skills} daily.",
        "{name} is a {role} at {company}. {first} has {years} of experience shipping mobile products and "
        "works with {skills}.",
        "Hi, I'm {name}! I've been a {role} for {years}; my toolkit includes {skills}.",
        "Candidate: {name}. Current role: {role}. Experience: {years}. Tools: {skills}.",
        "{name} owns the checkout roadmap as a {role}. Over {years}, {first} has learned to love {skills}.",
        "{name} here - {role}, {years} in product, live in {skills}",
        "As a {role} with {years} of experience, {name} has launched four products and writes specs in "
        "{skills}.",
        "Customer-obsessed {role} with {years} of professional experience. Comfortable with {skills}. "
        "Name: {name}.",
        "My name is {name}. I have {years} of experience as a {role}, running discovery with {skills}.",
        "{name} - {role} based in {city} - {years} of experience - tools: {skills}.",
        "Introducing {name}, who joins as {role} for the growth team, with {years} of experience using "
        "{skills}.",
        "I decide what we build next. I'm {name}, a {role} with {years} of experience, and I'm at home in "
        "{skills}.",
    ],
}

_FIRST = ["Priya", "Tom", "Maria", "Chen", "Aisha", "Liam", "Sofia", "Jake", "Fatima", "Marco", "Olivia",
          "Kenji", "Amara", "Lucas", "Ingrid", "Mateo", "Zoë", "Noah", "Leila", "Oluwaseun", "Hannah", "Raj",
          "Elena", "Dmitri", "Grace", "José", "Mary-Kate", "Anh", "Sven", "Yara"]
_LAST = ["Raman", "Baker", "Souza", "Wei", "Okafor", "Murphy", "Rossi", "Nguyen", "Haddad", "Schmidt",
         "García", "O'Neil", "Kowalski", "Tanaka", "Andersen", "Silva", "Patel", "Ivanova", "Mensah", "Cohen",
         "Lindqvist", "Álvarez", "Fischer", "Kim", "Dubois", "Van der Berg", "Hassan", "Brennan"]
_COMPANIES = ["Stripe", "Acme Corp", "Shopify", "a fintech startup", "Zalando", "a health-tech scale-up",
              "Spotify", "Initech", "a small agency", "Globex", "Monzo", "Booking.com"]
_CITIES = ["Berlin", "Lisbon", "Austin", "Toronto", "Lagos", "Bangalore", "London", "Melbourne", "Warsaw",
           "São Paulo", "Dublin", "Seoul"]
_DOMAINS = ["gmail.com", "outlook.com", "proton.me", "yahoo.co.uk", "hey.com", "fastmail.com", "icloud.com"]
_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                 "nineteen", "twenty"]

_EMAIL_SENTENCES = [("Reach me at {email}.", "Reach {first} at {email}."), ("Email: {email}", "Email: {email}"),
                    ("You can contact me at {email}.", "You can contact {first} at {email}."),
                    ("Contact: {email}", "Contact: {email}"), ("Drop me a line at {email}!", "({email})"),
                    ("Best way to reach me: {email}", "{first}'s email is {email}.")]
_OTHER_EMAIL_SENTENCES = ["For hiring questions, write to {other_email}.", "Team inbox: {other_email}.",
                          "Recruiter contact: {other_email}.", "Press enquiries go to {other_email}."]
_OTHER_EMAIL_USERS = ["jobs", "careers", "team", "press", "recruiting", "hello", "eng-team"]
_OTHER_DOMAINS = ["acme.io", "talentco.com", "globex.net", "hirewell.co", "initech.dev"]

# Clutter as (first-person, third-person) sentences, chosen to match the template's voice.
_DISTRACTORS = [
    ("I'm {age}.", "{first} is {age} years old."),
    ("I'm {age} and live in {city}.", "{first}, {age}, lives in {city}."),
    ("These days I lead a team of {team} engineers.", "Currently leads a team of {team} engineers."),
    ("I graduated in {grad_year}.", "Graduated from university in {grad_year}."),
    ("I've lived in {city} for {lived} years.", "Has lived in {city} for {lived} years."),
    ("I've spent the last {recent} years at {company}.", "Spent the last {recent} years at {company}."),
    ("I was mentored by {other_name} early on.", "Mentored by {other_name} early on."),
    ("I report to {other_name}, our head of engineering.", "Reports to {other_name}, the head of engineering."),
    ("I run a meetup with {members} members.", "Runs a meetup with {members} members."),
    ("Outside work: {kids} kids, {marathons} marathons and far too many houseplants.",
     "Outside work: {kids} kids, {marathons} marathons and far too many houseplants."),
    ("I was referred by {other_name}.", "Referred by {other_name}."),
    ("I switched careers at {switch_age}.", "{first} switched careers at {switch_age}."),
    ("I've given {talks} conference talks.", "Has given {talks} conference talks."),
    ("I speak {langs} languages.", "Speaks {langs} languages."),
]
_PREVIOUS_ROLE = [("Before that, I worked as a {prev_role}.", "Before that, {first} worked as a {prev_role}."),
                  ("I started out as a {prev_role}.", "Started out as a {prev_role}."),
                  ("Previously I was a {prev_role} at {company}.", "Previously a {prev_role} at {company}.")]
_LEARNING = [("Currently learning {learn}.", "Currently learning {learn}."),
             ("I want to learn {learn} next.", "Wants to learn {learn} next."),
             ("No experience with {learn} yet.", "No experience with {learn} yet."),
             ("Hoping to pick up {learn} this year.", "Hoping to pick up {learn} this year."),
             ("I have never used {learn} in production.", "Has never used {learn} in production.")]
_TOOLS = [("I also use {tool} a lot.", "Also uses {tool} a lot."), ("Big fan of {tool}.", "Big fan of {tool}.")]
_FIRST_PERSON_RE = re.compile(r"\b(?:I|I'm|I've|i'm|i|my|My)\b")
_HEADERS = ["About me:", "Bio:", "Candidate summary -", "Speaker bio:", "LinkedIn summary:", "[profile]",
            "Recruiter notes:"]
_SIGNOFFS = ["Thanks!", "Cheers.", "Happy to chat!", "Open to new opportunities.", "Not looking right now."]
_EMOJI = ["🚀", "🙂", "💻", "☕", "🌱", "📊"]

_WORD_RE = re.compile(r"[A-Za-z']{4,}")
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+")
_ARTICLE_RE = re.compile(r"\b([Aa]) (?=[AEIOaeio]|SRE\b)")


@dataclass(frozen=True)
class Example:
    """One labelled biography; ``template`` is the core phrasing id used for template-disjoint splits."""

    text: str
    output: dict[str, Any] = field(hash=False)
    template: str


def _parse_templates() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for role in ROLES:
        for i, text in enumerate(_TEMPLATES[role]):
            for slot in ("{name}", "{role}", "{years}", "{skills}"):
                if slot not in text:
                    raise RuntimeError(f"{role}/{i:02d}: template lacks {slot}")
            table[f"{role}/{i:02d}"] = (role, text)
    return table


if set(_TEMPLATES) != set(ROLES) or not set(sum(ROLE_SKILLS.values(), [])) <= set(SKILL_POOL):
    raise RuntimeError("generator pools and schema enums disagree")
_TABLE = _parse_templates()


def templates() -> dict[str, list[str]]:
    """Template ids per primary role (schema order), so a caller can split phrasings across splits."""
    return {role: [tid for tid, (r, _) in _TABLE.items() if r == role] for role in ROLES}


def skill_pattern(skill: str) -> re.Pattern[str]:
    """A mention of ``skill`` or one of its aliases as a whole token ("Java" is not in "JavaScript").

    Case is ignored except for the short names in CASE_SENSITIVE ("R", "Go"), which are ordinary words
    in lower case.
    """
    names = sorted([skill, *ALIASES.get(skill, [])], key=len, reverse=True)
    alternatives = "|".join(re.escape(n) if n in CASE_SENSITIVE else f"(?i:{re.escape(n)})" for n in names)
    return re.compile(rf"(?<![\w+#.-])(?:{alternatives})(?![\w+#]|\.\w)")


def _years(rng: random.Random) -> tuple[str, int]:
    """An experience phrase and the number it states."""
    if rng.random() < 0.06:
        return rng.choice([("less than a year", 0), ("under a year", 0), ("a few months", 0)])
    n = rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 25])
    if n == 10 and rng.random() < 0.4:
        return rng.choice(["a decade", "ten years"]), 10
    unit = "year" if n == 1 else "years"
    word = _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
    return rng.choice([f"{n} {unit}", f"{n} {unit}", f"{word} {unit}", f"{n}+ {unit}", f"over {n} {unit}",
                       f"{n} yrs", f"more than {word} {unit}"]), n


def _skill_surface(skill: str, rng: random.Random) -> str:
    if skill in ALIASES and rng.random() < 0.3:
        return rng.choice(ALIASES[skill])
    if skill not in CASE_SENSITIVE and rng.random() < 0.1:
        return skill.lower()
    return skill


def _join(items: list[str], rng: random.Random) -> str:
    if len(items) == 1:
        return items[0]
    style = rng.choice(("and", "and", "comma", "slash", "plus"))
    if style == "comma":
        return ", ".join(items)
    if style == "slash":
        return "/".join(items)
    if style == "plus":
        return ", ".join(items[:-1]) + " plus " + items[-1]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _name(rng: random.Random) -> tuple[str, str]:
    first = rng.choice(_FIRST)
    last = rng.choice(_LAST)
    if rng.random() < 0.1:
        return f"{first} {rng.choice('ABCDEJKLMST')}. {last}", first
    return f"{first} {last}", first


def _email_for(first: str, last: str, rng: random.Random) -> str:
    def ascii_part(s: str) -> str:
        s = s.lower().replace("ë", "e").replace("é", "e").replace("á", "a").replace("í", "i").replace("ã", "a")
        return re.sub(r"[^a-z]", "", s)

    f, surname = ascii_part(first), ascii_part(last.split()[-1])
    local = rng.choice([f"{f}.{surname}", f"{f}{surname[:1]}", f"{f[:1]}{surname}", f"{f}_{surname}",
                        f"{f}{rng.randint(1, 99)}", f"{surname}.{f}"])
    return f"{local}@{rng.choice(_DOMAINS)}"


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("drop", "swap", "double"))
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i] + word[i:]


def _add_typos(text: str, protected: list[str], rng: random.Random) -> str:
    """One to three typos in words outside every protected value (names, e-mails, skills, numbers, roles)."""
    spans = [(m.start(), m.end()) for p in protected if p for m in re.finditer(re.escape(p), text)]
    words = [m for m in _WORD_RE.finditer(text) if not any(s < m.end() and m.start() < e for s, e in spans)
             and m.group().lower() not in _NUMBER_WORDS]
    chosen = sorted(rng.sample(words, min(len(words), rng.randint(1, 3))), key=lambda m: m.start())
    out, pos = [], 0
    for m in chosen:
        out += [text[pos:m.start()], _typo(m.group(), rng)]
        pos = m.end()
    return "".join(out) + text[pos:]


def _make_example(rng: random.Random, template_id: str) -> Example | None:
    """One biography; None when a rare collision makes a label undecidable (the caller retries)."""
    role, raw = _TABLE[template_id]
    name, first = _name(rng)
    last = name.split()[-1]
    years_phrase, years = _years(rng)
    affine = ROLE_SKILLS[role]
    others = [s for s in SKILL_POOL if s not in affine]
    k = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))
    skills = rng.sample(affine, min(k, len(affine)))
    if rng.random() < 0.2:
        skills.insert(rng.randrange(len(skills) + 1), rng.choice(others))
    if rng.random() < 0.05:
        skills = []
    surfaces = [_skill_surface(s, rng) for s in skills]
    if not surfaces:
        skills_phrase = _join(rng.sample(NON_POOL_TOOLS, 2), rng)
    else:
        if rng.random() < 0.15:  # a tool outside the pool inside the list: mentioned, never labelled
            surfaces.insert(rng.randrange(len(surfaces) + 1), rng.choice(NON_POOL_TOOLS))
        skills_phrase = _join(surfaces, rng)
    values = {"name": name, "first": first, "role": rng.choice(ROLE_PHRASES[role]), "years": years_phrase,
              "skills": skills_phrase, "company": rng.choice(_COMPANIES), "city": rng.choice(_CITIES)}
    core = raw.format_map(values)
    core = core[:1].upper() + core[1:] if raw.startswith("{") else core
    sentences = _SENTENCE_SPLIT_RE.split(core)

    def insert(sentence: str, after_core: bool = False) -> None:
        lo = len(sentences) if after_core else 0
        sentences.insert(rng.randint(lo, len(sentences)), sentence)

    other_first, other_last = rng.choice([f for f in _FIRST if f != first]), rng.choice(_LAST)
    slot = {
        **values, "other_name": f"{other_first} {other_last}", "age": str(rng.randint(years + 21, years + 40)),
        "team": str(rng.randint(2, 15)), "grad_year": str(2025 - years - rng.randint(0, 4)),
        "lived": str(rng.randint(2, 12)), "recent": str(rng.randint(1, years - 1)) if years > 2 else "",
        "members": str(rng.choice((150, 400, 1200))), "switch_age": str(rng.randint(23, 35)),
        "kids": rng.choice(("two", "three", "2")),
        "marathons": rng.choice(("two", "4", "five")), "talks": str(rng.randint(3, 30)),
        "langs": rng.choice(("three", "4", "two")),
        "prev_role": rng.choice(sum((ROLE_PHRASES[r] for r in ROLES if r != role), [])),
        "learn": rng.choice([s for s in SKILL_POOL if s not in skills]), "tool": rng.choice(NON_POOL_TOOLS),
    }
    voice = 0 if _FIRST_PERSON_RE.search(raw) else 1

    def pick(pool: list[tuple[str, str]]) -> str:
        return rng.choice(pool)[voice].format_map(slot)

    pool = [d for d in _DISTRACTORS if slot["recent"] or "{recent}" not in d[1]]
    for d in rng.sample(pool, rng.choice((0, 1, 1, 2, 2, 3))):
        insert(d[voice].format_map(slot))
    if rng.random() < 0.3:
        insert(pick(_PREVIOUS_ROLE))
    if rng.random() < 0.25:  # after the core, so pool skills still appear in label order first
        insert(pick(_LEARNING), after_core=True)
    if rng.random() < 0.15:
        insert(pick(_TOOLS))

    email: str | None = None
    if rng.random() < 0.6:
        email = _email_for(first, last, rng)
        if rng.random() < 0.1:
            email = email[:1].upper() + email[1:]
        insert(rng.choice(_EMAIL_SENTENCES)[voice].format(email=email, first=first))
    if rng.random() < 0.15:
        other = f"{rng.choice(_OTHER_EMAIL_USERS)}@{rng.choice(_OTHER_DOMAINS)}"
        insert(rng.choice(_OTHER_EMAIL_SENTENCES).format(other_email=other))
    if rng.random() < 0.1:
        i = rng.randrange(len(sentences))
        sentences[i] += " " + rng.choice(_EMOJI)

    text = _ARTICLE_RE.sub(r"\1n ", rng.choice((" ", " ", "\n")).join(sentences))
    if rng.random() < 0.2:
        text = rng.choice(_HEADERS) + rng.choice((" ", "\n")) + text
    if rng.random() < 0.15:
        text += rng.choice((" ", "\n")) + rng.choice(_SIGNOFFS)
    if rng.random() < 0.25:
        protected = [name, first, years_phrase, *surfaces, *ROLE_PHRASES[role], slot["prev_role"], slot["learn"],
                     slot["other_name"]] + ([email] if email else [])
        text = _add_typos(text, protected, rng)
    if not _mentions_in_order(text, skills) or name not in text:
        return None
    if rng.random() < 0.06 and not CASE_SENSITIVE & {*skills, slot["learn"]}:
        text, name = text.lower(), name.lower()
        email = email.lower() if email else None

    output = canonical({"full_name": name, "email": email, "years_of_experience": years, "skills": skills,
                        "primary_role": role}, SCHEMA)
    if not is_valid(output, SCHEMA):
        raise RuntimeError(f"{template_id}: generated an invalid label {output}: {schema_errors(output, SCHEMA)}")
    return Example(text=text, output=output, template=template_id)


def _mentions_in_order(text: str, skills: list[str]) -> bool:
    """Every labelled skill is mentioned, first mentions in label order (the documented rule)."""
    positions = []
    for skill in skills:
        found = skill_pattern(skill).search(text)
        if found is None:
            return False
        positions.append(found.start())
    return positions == sorted(positions)


def generate(n: int, seed: int, template_ids: Collection[str] | None = None) -> list[Example]:
    """``n`` labelled biographies, deterministic in (n, seed, template_ids), roles drawn uniformly.

    ``template_ids`` restricts the core phrasings (for template-disjoint splits); roles with no allowed
    template are skipped.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    allowed = None if template_ids is None else set(template_ids)
    if allowed is not None and (unknown := sorted(allowed - set(_TABLE))):
        raise ValueError(f"unknown template ids: {unknown[:5]}")
    pools = {role: [t for t in ids if allowed is None or t in allowed] for role, ids in templates().items()}
    roles = [role for role in ROLES if pools[role]]
    if n and not roles:
        raise ValueError("template_ids selects no templates")
    rng = random.Random(seed)
    examples: list[Example] = []
    while len(examples) < n:
        example = _make_example(rng, rng.choice(pools[rng.choice(roles)]))
        if example is not None:
            examples.append(example)
    return examples
