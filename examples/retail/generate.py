"""Generate the bundled retail example dataset (deterministic, stdlib only, no download).

A fictional omnichannel retailer selling in four regions through flagship, standard, outlet and
online stores, from 2023-01-01 to 2025-06-30. Column names are deliberately terse (`ord_dt`,
`stat_cd`, `cust_seg`, `cat_nm`, `rgn_id`) and the status codes are bare letters, so a Genie
space only answers well when its metadata explains them — which is what the example demonstrates.

    python -m chaos_llama.examples.retail.generate            # (re)write examples/retail/data/
    python -m chaos_llama.examples.retail.generate --check    # verify the committed CSVs

The same seed always yields byte-identical files: one `random.Random(seed)` drives every choice,
iteration orders are fixed, and numbers are formatted explicitly.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import io
import math
import sys
from datetime import date, timedelta
from pathlib import Path
from random import Random

SEED = 20250630
DATA_DIR = Path(__file__).resolve().parent / "data"
FIRST_DAY = date(2023, 1, 1)
LAST_DAY = date(2025, 6, 30)

# ---------------------------------------------------------------- reference data
REGIONS = [  # rgn_id, rgn_cd, rgn_nm
    (1, "AMER", "North America"),
    (2, "EMEA", "Europe, Middle East & Africa"),
    (3, "APAC", "Asia Pacific"),
    (4, "LATAM", "Latin America"),
]

COUNTRIES = {  # rgn_id -> [(country_cd, weight)]
    1: [("US", 8), ("CA", 2)],
    2: [("GB", 4), ("DE", 3), ("FR", 2), ("NL", 1), ("AE", 1)],
    3: [("JP", 3), ("AU", 3), ("SG", 2), ("IN", 2)],
    4: [("MX", 3), ("BR", 3), ("CL", 1)],
}
REGION_WEIGHTS = {1: 38, 2: 30, 3: 20, 4: 12}

STORES = [  # store_id, store_nm, city, country_cd, rgn_id, fmt, open_dt, sq_ft
    (101, "New York Fifth Avenue", "New York", "US", 1, "Flagship", "2015-04-18", 42000),
    (102, "Chicago Loop", "Chicago", "US", 1, "Standard", "2017-09-02", 18500),
    (103, "Seattle Pike Street", "Seattle", "US", 1, "Standard", "2019-03-23", 16000),
    (104, "Dallas Premium Outlet", "Dallas", "US", 1, "Outlet", "2020-11-07", 12000),
    (105, "Toronto Eaton Centre", "Toronto", "CA", 1, "Standard", "2018-06-16", 17500),
    (109, "Online Store - North America", None, "US", 1, "Online", "2014-01-01", None),
    (201, "London Oxford Street", "London", "GB", 2, "Flagship", "2016-10-01", 38000),
    (202, "Berlin Mitte", "Berlin", "DE", 2, "Standard", "2018-02-24", 15500),
    (203, "Paris Rivoli", "Paris", "FR", 2, "Standard", "2019-05-11", 14000),
    (204, "Amsterdam Batavia Outlet", "Lelystad", "NL", 2, "Outlet", "2021-03-13", 11000),
    (205, "Dubai Mall", "Dubai", "AE", 2, "Flagship", "2022-01-15", 30000),
    (209, "Online Store - EMEA", None, "GB", 2, "Online", "2015-03-01", None),
    (301, "Tokyo Ginza", "Tokyo", "JP", 3, "Flagship", "2017-07-07", 33000),
    (302, "Sydney Pitt Street", "Sydney", "AU", 3, "Standard", "2018-11-24", 16500),
    (303, "Singapore Orchard", "Singapore", "SG", 3, "Standard", "2019-08-09", 15000),
    (304, "Mumbai Outlet Park", "Mumbai", "IN", 3, "Outlet", "2022-04-02", 10500),
    (309, "Online Store - APAC", None, "SG", 3, "Online", "2016-06-01", None),
    (401, "Mexico City Polanco", "Mexico City", "MX", 4, "Flagship", "2019-10-19", 28000),
    (402, "Sao Paulo Paulista", "Sao Paulo", "BR", 4, "Standard", "2020-02-29", 14500),
    (403, "Santiago Outlet", "Santiago", "CL", 4, "Outlet", "2021-09-18", 9500),
    (409, "Online Store - LATAM", None, "MX", 4, "Online", "2018-01-01", None),
]
FORMAT_WEIGHTS = {"Flagship": 3.0, "Standard": 2.0, "Outlet": 1.4}

# category -> (demand weight, {subcategory: (nouns, price low, price high)}, brands)
CATALOG = {
    "Electronics": (
        24,
        {
            "Headphones": (["Wireless Earbuds", "Over-Ear Headphones", "Sport Earphones"], 29, 349),
            "Smart Home": (["Smart Speaker", "Video Doorbell", "Smart Plug 4-Pack", "Wi-Fi Camera"], 19, 249),
            "Wearables": (["Fitness Band", "Smartwatch", "GPS Running Watch"], 49, 449),
            "Accessories": (["USB-C Charger", "Power Bank", "Phone Case", "HDMI Cable"], 9, 79),
        },
        ["Voltix", "Sonora", "Nimbus"],
    ),
    "Home & Kitchen": (
        22,
        {
            "Cookware": (["Nonstick Skillet", "Dutch Oven", "Knife Block Set", "Saucepan Set"], 25, 299),
            "Small Appliances": (["Espresso Machine", "Air Fryer", "Stand Mixer", "Blender"], 39, 599),
            "Bedding": (["Duvet Cover Set", "Memory Foam Pillow", "Cotton Sheet Set"], 29, 229),
            "Storage": (["Pantry Organizer", "Glass Container Set", "Closet System"], 15, 129),
        },
        ["Hearthline", "Casa Verde", "Oakmont"],
    ),
    "Apparel": (
        20,
        {
            "Outerwear": (["Rain Jacket", "Puffer Coat", "Fleece Jacket"], 59, 329),
            "Activewear": (["Running Tights", "Training Tee", "Yoga Pants"], 19, 99),
            "Footwear": (["Trail Runner", "Leather Sneaker", "Hiking Boot"], 59, 219),
            "Basics": (["Crew Socks 6-Pack", "Cotton T-Shirt", "Hoodie"], 9, 69),
        },
        ["Northpeak", "Urban Thread", "Stride"],
    ),
    "Sports & Outdoors": (
        13,
        {
            "Camping": (["2-Person Tent", "Sleeping Bag", "Camp Stove", "Headlamp"], 19, 399),
            "Fitness": (["Adjustable Dumbbells", "Yoga Mat", "Resistance Bands"], 15, 349),
            "Cycling": (["Bike Helmet", "Bike Light Set", "Cycling Gloves"], 19, 159),
        },
        ["Trailcraft", "Peakform"],
    ),
    "Beauty & Personal Care": (
        12,
        {
            "Skincare": (["Vitamin C Serum", "Daily Moisturizer", "SPF 50 Sunscreen"], 12, 89),
            "Haircare": (["Repair Shampoo", "Hair Dryer", "Styling Cream"], 9, 199),
            "Fragrance": (["Eau de Parfum", "Body Mist", "Cologne"], 25, 149),
        },
        ["Lumiere", "Verdance"],
    ),
    "Toys & Games": (
        9,
        {
            "Board Games": (["Strategy Board Game", "Family Party Game", "Chess Set"], 15, 79),
            "Building Sets": (["Starter Brick Set", "City Builder Set", "Robotics Kit"], 19, 199),
            "Puzzles": (["1000-Piece Puzzle", "3D Puzzle", "Brain Teaser Set"], 9, 49),
        },
        ["Playforge", "Brightbox"],
    ),
}
ADJECTIVES = ["Classic", "Pro", "Essential", "Ultra", "Air", "Max", "Lite", "Prime", "Eco", "Signature"]

PROMOTIONS = [  # promo_id, promo_nm, promo_type, start_dt, end_dt, disc_pct
    (1, "New Year Clearance 2023", "Clearance", "2023-01-02", "2023-01-15", "0.20"),
    (2, "Spring Refresh 2023", "Seasonal", "2023-04-01", "2023-04-16", "0.10"),
    (3, "Back to School 2023", "Seasonal", "2023-08-14", "2023-09-03", "0.10"),
    (4, "Black Friday 2023", "Holiday", "2023-11-20", "2023-11-27", "0.25"),
    (5, "Holiday Gifting 2023", "Holiday", "2023-12-08", "2023-12-24", "0.15"),
    (6, "Loyalty Week 2024", "Loyalty", "2024-03-04", "2024-03-10", "0.15"),
    (7, "Summer Sale 2024", "Seasonal", "2024-06-21", "2024-07-07", "0.15"),
    (8, "Back to School 2024", "Seasonal", "2024-08-12", "2024-09-01", "0.10"),
    (9, "Black Friday 2024", "Holiday", "2024-11-25", "2024-12-02", "0.25"),
    (10, "Holiday Gifting 2024", "Holiday", "2024-12-06", "2024-12-24", "0.15"),
    (11, "Winter Clearance 2025", "Clearance", "2025-01-06", "2025-01-26", "0.30"),
    (12, "Loyalty Week 2025", "Loyalty", "2025-03-10", "2025-03-16", "0.15"),
    (13, "Spring Refresh 2025", "Seasonal", "2025-04-07", "2025-04-20", "0.10"),
]

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Mateo", "Sofia", "Leon", "Amelia",
    "Hugo", "Chloe", "Arjun", "Priya", "Kenji", "Yuki", "Hana", "Wei", "Mei", "Aisha", "Omar",
    "Fatima", "Diego", "Valentina", "Camila", "Gabriel", "Isabela", "Thomas", "Charlotte",
    "Jack", "Grace", "Ethan", "Zoe", "Felix", "Lena", "Daniel", "Sara", "Ravi", "Ananya",
]
LAST_NAMES = [
    "Smith", "Johnson", "Garcia", "Martinez", "Brown", "Müller", "Schmidt", "Dubois", "Martin",
    "Rossi", "Jansen", "de Vries", "Tanaka", "Sato", "Suzuki", "Chen", "Wang", "Kim", "Patel",
    "Sharma", "Singh", "Nguyen", "Silva", "Santos", "Oliveira", "Hernandez", "Lopez", "Gonzalez",
    "Al-Farsi", "Haddad", "Okafor", "Taylor", "Wilson", "Clarke", "Murphy", "Novak", "Kowalski",
    "Andersen", "Larsen", "Costa",
]
COMPANY_SUFFIXES = {
    "Corporate": ["Holdings", "Group", "Industries", "Global", "Corporation", "Partners"],
    "Small Business": ["& Co", "Studio", "Bakery", "Consulting", "Design", "Outfitters", "Cafe"],
}
RETURN_REASONS = [("Damaged in transit", 3), ("Wrong size", 4), ("Not as described", 3),
                  ("Changed mind", 5), ("Late delivery", 1), ("Defective", 2)]

# Monthly seasonality of order volume (Jan..Dec): holiday peak, January lull.
SEASONALITY = [0.80, 0.82, 0.95, 0.95, 1.00, 0.98, 1.02, 1.05, 0.98, 1.02, 1.30, 1.55]
ORDERS_PER_DAY = 4.6


# ---------------------------------------------------------------- helpers
def _pick(rng: Random, weighted: list[tuple[object, float]]) -> object:
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for value, w in weighted:
        x -= w
        if x < 0:
            return value
    return weighted[-1][0]


def _weighted_index(rng: Random, cumulative: list[float], n: int) -> int:
    """Index of a weighted choice among the first `n` items, given the running sum of weights."""
    return min(bisect.bisect_right(cumulative, rng.random() * cumulative[n - 1], 0, n), n - 1)


def _poisson(rng: Random, lam: float) -> int:
    # Knuth's method: exact, stdlib-only and deterministic for a given rng state.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _day(rng: Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _money(x: float) -> str:
    return f"{x:.2f}"


def _csv(header: list[str], rows: list[tuple]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


# ---------------------------------------------------------------- generation
def render(seed: int = SEED) -> dict[str, str]:
    """Build every table in memory. Returns `{file name: CSV text}`, identical for a given seed."""
    rng = Random(seed)
    files: dict[str, str] = {}

    files["regions.csv"] = _csv(["rgn_id", "rgn_cd", "rgn_nm"], REGIONS)
    files["stores.csv"] = _csv(
        ["store_id", "store_nm", "city", "country_cd", "rgn_id", "fmt", "open_dt", "sq_ft"], STORES
    )
    files["promotions.csv"] = _csv(
        ["promo_id", "promo_nm", "promo_type", "start_dt", "end_dt", "disc_pct"], PROMOTIONS
    )

    # ---- products
    products = []  # (prod_id, sku, prod_nm, cat_nm, subcat_nm, brand_nm, unit_cost, list_price, launch_dt)
    demand: list[tuple[int, float]] = []
    pid = 1000
    names: set[str] = set()
    for cat, (cat_weight, subcats, brands) in CATALOG.items():
        n_in_cat = sum(len(nouns) for nouns, _, _ in subcats.values()) * 2
        for sub, (nouns, lo, hi) in subcats.items():
            for noun in nouns:
                for _ in range(2):
                    pid += 1
                    name = ""
                    while not name or name in names:  # product names are unique
                        brand = rng.choice(brands)
                        name = f"{brand} {rng.choice(ADJECTIVES)} {noun}"
                    names.add(name)
                    price = round(rng.uniform(lo, hi)) - 0.01
                    cost = round(price * rng.uniform(0.38, 0.66), 2)
                    launch = _day(rng, date(2018, 1, 1), date(2024, 9, 30))
                    sku = f"{cat[:3].upper()}-{sub[:3].upper()}-{pid}"
                    products.append((pid, sku, name, cat, sub, brand, _money(cost), _money(price), launch.isoformat()))
                    # cheaper items sell more often; category weight spread over its products
                    demand.append((len(products) - 1, cat_weight / n_in_cat * (1.0 + 60.0 / price)))
    files["products.csv"] = _csv(
        ["prod_id", "sku", "prod_nm", "cat_nm", "subcat_nm", "brand_nm", "unit_cost", "list_price", "launch_dt"],
        products,
    )

    # ---- customers
    customers = []  # (cust_id, cust_nm, cust_seg, lylty_tier, country_cd, signup_dt, email_opt_in)
    cust_region: dict[int, int] = {}
    by_region: dict[int, list[tuple[date, int, float]]] = {r: [] for r, _, _ in REGIONS}
    for i in range(1800):
        cid = 10001 + i
        seg = _pick(rng, [("Consumer", 66), ("Corporate", 16), ("Small Business", 18)])
        rgn = _pick(rng, list(REGION_WEIGHTS.items()))
        country = _pick(rng, COUNTRIES[rgn])
        if seg == "Consumer":
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        else:
            name = f"{rng.choice(LAST_NAMES)} {rng.choice(COMPANY_SUFFIXES[seg])}"
        tier = _pick(rng, [(None, 18), ("Bronze", 34), ("Silver", 26), ("Gold", 15), ("Platinum", 7)])
        if rng.random() < 0.62:
            signup = _day(rng, date(2018, 3, 1), date(2022, 12, 31))
        else:
            signup = _day(rng, FIRST_DAY, date(2025, 5, 31))
        opt_in = "Y" if rng.random() < 0.57 else "N"
        customers.append((cid, name, seg, tier, country, signup.isoformat(), opt_in))
        cust_region[cid] = rgn
        # heavy-tailed purchase frequency; businesses buy more often
        activity = rng.paretovariate(2.2) * (1.8 if seg != "Consumer" else 1.0)
        by_region[rgn].append((signup, cid, activity))
    files["customers.csv"] = _csv(
        ["cust_id", "cust_nm", "cust_seg", "lylty_tier", "country_cd", "signup_dt", "email_opt_in"], customers
    )
    seg_of = {c[0]: c[2] for c in customers}
    # Customers of a region sorted by signup date: those who may order on a day are a prefix.
    pools = {}
    for rgn, members in by_region.items():
        members.sort()
        running, cum = 0.0, []
        for _, _, activity in members:
            running += activity
            cum.append(running)
        pools[rgn] = ([m[0] for m in members], [m[1] for m in members], cum)
    demand_cum, running = [], 0.0
    for _, w in demand:
        running += w
        demand_cum.append(running)

    # ---- orders, order lines, returns
    physical = {r: [(s[0], FORMAT_WEIGHTS[s[5]]) for s in STORES if s[4] == r and s[5] != "Online"] for r, _, _ in REGIONS}
    online = {s[4]: s[0] for s in STORES if s[5] == "Online"}
    store_fmt = {s[0]: s[5] for s in STORES}
    promos = [(p[0], date.fromisoformat(p[3]), date.fromisoformat(p[4]), float(p[5])) for p in PROMOTIONS]

    orders, items, returns = [], [], []
    oid, ret_id = 500000, 0
    day = FIRST_DAY
    while day <= LAST_DAY:
        years = (day - FIRST_DAY).days / 365.25
        lam = ORDERS_PER_DAY * SEASONALITY[day.month - 1] * (1.0 + 0.14 * years) * (1.12 if day.weekday() >= 5 else 0.95)
        for _ in range(_poisson(rng, lam)):
            rgn = _pick(rng, list(REGION_WEIGHTS.items()))
            signups, cids, cum = pools[rgn]
            cid = cids[_weighted_index(rng, cum, bisect.bisect_right(signups, day))]
            seg = seg_of[cid]
            channel = _pick(rng, [("In-Store", 55 if seg == "Consumer" else 35), ("Web", 26 if seg == "Consumer" else 45),
                                  ("Mobile App", 12 if day.year < 2024 else 17), ("Marketplace", 6)])
            store = _pick(rng, physical[rgn]) if channel == "In-Store" else online[rgn]
            status = _pick(rng, [("C", 86), ("R", 8 if channel in ("Web", "Marketplace") else 5), ("X", 5)])
            promo = next((p for p in promos if p[1] <= day <= p[2]), None)
            promo_id = promo[0] if promo and rng.random() < 0.45 else None

            oid += 1
            gross = net = 0.0
            n_lines = 1 + min(_poisson(rng, 1.3 if seg == "Consumer" else 2.0), 6)
            chosen: list[int] = []
            for line_no in range(1, n_lines + 1):
                idx = _weighted_index(rng, demand_cum, len(demand_cum))
                while idx in chosen:  # one line per product per order
                    idx = _weighted_index(rng, demand_cum, len(demand_cum))
                chosen.append(idx)
                p = products[idx]
                qty = _pick(rng, [(1, 70), (2, 19), (3, 7), (4, 4)]) * (rng.choice([1, 1, 2, 5]) if seg != "Consumer" else 1)
                price = float(p[7]) * (1.04 if day.year >= 2025 else 1.0)  # 2025 list-price increase
                if promo_id is not None:
                    disc = promo[3]
                elif store_fmt[store] == "Outlet":
                    disc = _pick(rng, [(0.2, 5), (0.3, 3), (0.4, 1)])
                else:
                    disc = _pick(rng, [(0.0, 78), (0.05, 12), (0.1, 10)])
                unit_prc = round(price, 2)
                items.append((oid, line_no, p[0], qty, _money(unit_prc), f"{disc:.2f}"))
                gross += qty * unit_prc
                net += qty * unit_prc * (1 - disc)
            ship_fee = 0.0 if channel == "In-Store" or gross >= 75 else rng.choice([4.99, 6.99])
            orders.append((oid, day.isoformat(), cid, store, channel, status, promo_id, _money(gross), _money(ship_fee)))
            if status == "R":
                ret_id += 1
                reason = _pick(rng, RETURN_REASONS)
                share = 1.0 if rng.random() < 0.7 else rng.choice([0.5, 0.75])
                ret_dt = day + timedelta(days=rng.randint(2, 35))
                returns.append((700000 + ret_id, oid, ret_dt.isoformat(), reason, _money(net * share)))
        day += timedelta(days=1)

    files["orders.csv"] = _csv(
        ["ord_id", "ord_dt", "cust_id", "store_id", "sales_chnl", "stat_cd", "promo_id", "gross_amt", "ship_fee"], orders
    )
    files["order_items.csv"] = _csv(["ord_id", "line_no", "prod_id", "qty", "unit_prc", "disc_pct"], items)
    files["returns.csv"] = _csv(["ret_id", "ord_id", "ret_dt", "ret_rsn", "refund_amt"], returns)
    return files


def write(out_dir: Path = DATA_DIR, seed: int = SEED) -> list[Path]:
    """Write every CSV of `render(seed)` into `out_dir`; returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in render(seed).items():
        path = out_dir / name
        path.write_text(content, encoding="utf-8", newline="")
        paths.append(path)
    return paths


def check(data_dir: Path = DATA_DIR, seed: int = SEED) -> list[str]:
    """Compare the files in `data_dir` with a fresh generation; returns one message per difference."""
    problems = []
    expected = render(seed)
    for name, content in expected.items():
        path = data_dir / name
        if not path.exists():
            problems.append(f"{path}: missing (run `python -m chaos_llama.examples.retail.generate`)")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"{path}: differs from a fresh generation with seed {seed}")
    for extra in sorted(p.name for p in data_dir.glob("*.csv") if p.name not in expected):
        problems.append(f"{data_dir / extra}: not produced by the generator")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--check", action="store_true", help="verify the files instead of writing them")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out, args.seed)
        for p in problems:
            print(p, file=sys.stderr)
        print("ok" if not problems else f"{len(problems)} file(s) differ")
        return 1 if problems else 0
    for path in write(args.out, args.seed):
        print(f"{path}  {path.stat().st_size:>9,d} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
