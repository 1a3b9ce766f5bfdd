"""The fixed world every population lives in: towns, organizations, providers, payers and name lists.

Reference data does not depend on the seed: its identifiers are name-based UUIDs, so a provider or payer keeps
its ``Id`` across datasets. Towns, ZIP codes and county FIPS codes are real (Massachusetts, as in Synthea's
default); organization names are invented; payer names and headquarters are those Synthea ships.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from hitlab.synth.streams import stable_uuid, stream


@dataclass(frozen=True, slots=True)
class Town:
    name: str
    county: str
    fips: str
    zips: tuple[str, ...]  # the town's real ZIP codes; the first is its main post office
    lat: float
    lon: float
    weight: int  # population in thousands, for sampling residence

    @property
    def zip(self) -> str:
        return self.zips[0]


# fmt: off
TOWNS: tuple[Town, ...] = (
    Town("Boston", "Suffolk County", "25025", ("02108", "02109", "02110", "02111", "02113", "02114", "02115", "02116", "02118", "02119", "02120", "02121", "02122", "02124", "02125", "02126", "02127", "02128", "02129", "02130", "02131", "02132", "02134", "02135", "02136"), 42.3370, -71.0726, 650),
    Town("Cambridge", "Middlesex County", "25017", ("02138", "02139", "02140", "02141", "02142"), 42.3647, -71.1042, 118),
    Town("Somerville", "Middlesex County", "25017", ("02143", "02144", "02145"), 42.3817, -71.0995, 81),
    Town("Worcester", "Worcester County", "25027", ("01602", "01603", "01604", "01605", "01606", "01607", "01608", "01609", "01610"), 42.2706, -71.8403, 206),
    Town("Springfield", "Hampden County", "25013", ("01103", "01104", "01105", "01107", "01108", "01109", "01118", "01119", "01128", "01129"), 42.1029, -72.5886, 155),
    Town("Lowell", "Middlesex County", "25017", ("01850", "01851", "01852", "01854"), 42.6334, -71.3162, 115),
    Town("Brockton", "Plymouth County", "25023", ("02301", "02302"), 42.0834, -71.0184, 105),
    Town("Quincy", "Norfolk County", "25021", ("02169", "02170", "02171"), 42.2529, -71.0023, 101),
    Town("Lynn", "Essex County", "25009", ("01901", "01902", "01904", "01905"), 42.4668, -70.9495, 101),
    Town("New Bedford", "Bristol County", "25005", ("02740", "02744", "02745", "02746"), 41.6362, -70.9342, 101),
    Town("Fall River", "Bristol County", "25005", ("02720", "02721", "02723", "02724"), 41.7015, -71.1550, 94),
    Town("Newton", "Middlesex County", "25017", ("02458", "02459", "02460", "02461", "02462", "02464", "02465", "02466", "02467", "02468"), 42.3370, -71.2092, 88),
    Town("Framingham", "Middlesex County", "25017", ("01701", "01702"), 42.2793, -71.4162, 72),
    Town("Haverhill", "Essex County", "25009", ("01830", "01832", "01835"), 42.7762, -71.0773, 67),
    Town("Malden", "Middlesex County", "25017", ("02148",), 42.4251, -71.0662, 66),
    Town("Waltham", "Middlesex County", "25017", ("02451", "02452", "02453"), 42.3765, -71.2356, 65),
    Town("Plymouth", "Plymouth County", "25023", ("02360",), 41.9584, -70.6673, 61),
    Town("Barnstable", "Barnstable County", "25001", ("02601", "02630", "02632"), 41.6532, -70.2819, 49),
    Town("Attleboro", "Bristol County", "25005", ("02703",), 41.9445, -71.2856, 46),
    Town("Salem", "Essex County", "25009", ("01970",), 42.5195, -70.8967, 44),
    Town("Pittsfield", "Berkshire County", "25003", ("01201",), 42.4501, -73.2454, 43),
    Town("Northampton", "Hampshire County", "25015", ("01060", "01062"), 42.3251, -72.6412, 29),
    Town("Greenfield", "Franklin County", "25011", ("01301",), 42.5876, -72.5995, 18),
    Town("Nantucket", "Nantucket County", "25019", ("02554",), 41.2835, -70.0995, 14),
    Town("Edgartown", "Dukes County", "25007", ("02539",), 41.3890, -70.5134, 5),
)
# fmt: on

STREET_NAMES = (
    "Maple", "Oak", "Elm", "Washington", "Main", "Pleasant", "Park", "Highland", "Chestnut", "Summer",
    "Union", "Prospect", "Spring", "Walnut", "Church", "School", "Central", "Forest", "Cedar", "Lincoln",
    "Hillside", "Harbor", "River", "Meadow", "Beacon", "Adams", "Franklin", "Winter", "Pine", "Bridge",
)  # fmt: skip
STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Way", "Court", "Terrace", "Drive")

FIRST_NAMES = {
    "F": (
        "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
        "Lisa", "Nancy", "Margaret", "Sandra", "Ashley", "Emily", "Donna", "Michelle", "Carol", "Amanda",
        "Maria", "Guadalupe", "Sofía", "Ana", "Mei", "Priya", "Aaliyah", "Keisha", "Nguyen Thi", "Fatima",
        "Olga", "Siobhan", "Zoë", "Chloe", "Grace", "Hannah", "Isabella", "Madison", "Olivia", "Ruth",
    ),
    "M": (
        "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
        "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
        "José", "Luis", "Carlos", "Wei", "Raj", "Mohammed", "DeShawn", "Tyrone", "Minh", "Ivan",
        "Seán", "Kenji", "Omar", "Noah", "Liam", "Ethan", "Lucas", "Mason", "Samuel", "Walter",
    ),
}  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernández", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Pérez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "O'Brien", "O'Connor", "Sullivan", "Murphy", "Kelly", "Fitzgerald", "Chen", "Wang", "Patel", "Kim",
    "Cohen", "Schmidt", "Rossi", "Kowalski", "Silva", "Santos", "Costa", "Haddad", "Okafor", "Smith-Jones",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    kind: str  # "hospital" or "clinic"
    address: str
    town: Town
    phone: str

    @property
    def short_name(self) -> str:
        """A facility code for HL7 v2 (``MSH-4``, ``PV1-3.4``): the initials of the name."""
        return "".join(w[0] for w in self.name.split() if w[0].isalpha()).upper()


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    npi: str
    organization: Organization
    prefix: str
    first: str
    last: str
    gender: str
    speciality: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True, slots=True)
class Payer:
    id: str
    name: str
    ownership: str  # GOVERNMENT, PRIVATE or NO_INSURANCE, as Synthea writes payers.OWNERSHIP
    address: str
    city: str
    state: str
    zip: str
    phone: str
    coverage: float  # share of a claim the payer pays


_HOSPITALS = (
    ("Bay State General Hospital", "55 Fruit Street", "Boston", "6175550100"),
    ("Central Massachusetts Regional Hospital", "119 Belmont Street", "Worcester", "5085550110"),
    ("Pioneer Valley Medical Center", "759 Chestnut Street", "Springfield", "4135550120"),
    ("South Coast Community Hospital", "101 Page Street", "New Bedford", "5085550130"),
    ("North Shore Memorial Hospital", "81 Highland Avenue", "Salem", "9785550140"),
)
_CLINICS = (
    ("Beacon Hill Family Practice", "12 Charles Street", "Boston", "6175550200"),
    ("Harbor Primary Care", "1250 Hancock Street", "Quincy", "6175550210"),
    ("Merrimack Valley Health Center", "295 Varnum Avenue", "Lowell", "9785550220"),
    ("Blackstone Valley Family Medicine", "26 Queen Street", "Worcester", "5085550230"),
    ("Connecticut River Primary Care", "3300 Main Street", "Springfield", "4135550240"),
    ("Cape Cod Family Health", "27 Park Street", "Barnstable", "5085550250"),
    ("MetroWest Primary Care", "115 Lincoln Street", "Framingham", "5085550260"),
    ("Berkshire Family Medicine", "725 North Street", "Pittsfield", "4135550270"),
    ("Greater Brockton Health Center", "680 Centre Street", "Brockton", "5085550280"),
)
_HOSPITAL_SPECIALITIES = (
    "EMERGENCY MEDICINE", "EMERGENCY MEDICINE", "INTERNAL MEDICINE", "INTERNAL MEDICINE", "CARDIOLOGY",
    "PULMONARY DISEASE", "NEPHROLOGY", "ORTHOPEDIC SURGERY",
)  # fmt: skip
_CLINIC_SPECIALITIES = ("GENERAL PRACTICE", "GENERAL PRACTICE", "FAMILY PRACTICE", "INTERNAL MEDICINE")

PAYERS: tuple[Payer, ...] = tuple(
    Payer(stable_uuid("payer", name), name, owner, addr, city, state, zip_, phone, cov)
    for name, owner, addr, city, state, zip_, phone, cov in (
        ("Medicare", "GOVERNMENT", "7500 Security Blvd", "Baltimore", "MD", "21244", "1-800-633-4227", 0.8),
        ("Medicaid", "GOVERNMENT", "7500 Security Blvd", "Baltimore", "MD", "21244", "1-877-267-2323", 1.0),
        (
            "Dual Eligible",
            "GOVERNMENT",
            "7500 Security Blvd",
            "Baltimore",
            "MD",
            "21244",
            "1-877-267-2323",
            1.0,
        ),
        ("Aetna", "PRIVATE", "151 Farmington Ave", "Hartford", "CT", "06156", "1-800-872-3862", 0.8),
        ("Anthem", "PRIVATE", "220 Virginia Ave", "Indianapolis", "IN", "46204", "1-800-331-1476", 0.75),
        (
            "Blue Cross Blue Shield",
            "PRIVATE",
            "Michigan Plaza",
            "Chicago",
            "IL",
            "60007",
            "1-800-262-2583",
            0.85,
        ),
        (
            "Cigna Health",
            "PRIVATE",
            "900 Cottage Grove Rd",
            "Bloomfield",
            "CT",
            "06002",
            "1-800-997-1654",
            0.8,
        ),
        ("Humana", "PRIVATE", "500 West Main St", "Louisville", "KY", "40018", "1-844-330-7799", 0.75),
        (
            "UnitedHealthcare",
            "PRIVATE",
            "9800 Healthcare Lane",
            "Minnetonka",
            "MN",
            "55436",
            "1-888-545-5205",
            0.8,
        ),
        ("NO_INSURANCE", "NO_INSURANCE", "", "", "", "", "", 0.0),
    )
)
PAYER_BY_NAME = {p.name: p for p in PAYERS}
PRIVATE_PAYERS = tuple(p for p in PAYERS if p.ownership == "PRIVATE")


def npi_check_digit(base9: str) -> str:
    """The NPI check digit: Luhn over the 9 digits with the card-issuer prefix 80840 (CMS's NPI standard)."""
    digits = [int(d) for d in "80840" + base9]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # every second digit from the right, starting with the rightmost of the base
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


@dataclass(frozen=True, slots=True)
class World:
    """Everything seed-independent that patients refer to."""

    organizations: tuple[Organization, ...]
    providers: tuple[Provider, ...]
    payers: tuple[Payer, ...] = PAYERS
    hospitals: tuple[Organization, ...] = field(default=())
    clinics: tuple[Organization, ...] = field(default=())

    def providers_of(self, org: Organization) -> tuple[Provider, ...]:
        return tuple(p for p in self.providers if p.organization.id == org.id)


@cache
def world() -> World:
    """The fixed world (built once per process)."""
    towns = {t.name: t for t in TOWNS}
    orgs = tuple(
        Organization(stable_uuid("organization", name), name, kind, addr, towns[city], phone)
        for kind, table in (("hospital", _HOSPITALS), ("clinic", _CLINICS))
        for name, addr, city, phone in table
    )
    rng = stream(0, "providers")
    providers = []
    for org in orgs:
        specialities = _HOSPITAL_SPECIALITIES if org.kind == "hospital" else _CLINIC_SPECIALITIES
        for speciality in specialities:
            gender = rng.choice("FM")
            first = f"{rng.choice(FIRST_NAMES[gender])}{rng.randint(1, 999)}"
            last = f"{rng.choice(LAST_NAMES)}{rng.randint(1, 999)}"
            base = f"999{rng.randrange(10**6):06d}"
            npi = base + npi_check_digit(base)
            providers.append(
                Provider(stable_uuid("provider", npi), npi, org, "Dr.", first, last, gender, speciality)
            )
    return World(
        organizations=orgs,
        providers=tuple(providers),
        hospitals=tuple(o for o in orgs if o.kind == "hospital"),
        clinics=tuple(o for o in orgs if o.kind == "clinic"),
    )
