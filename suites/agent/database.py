"""A small in-memory database of invented products and employees for the lookup tools.

Everything is invented (no real company, person or price), so no answer can be factually wrong; the
tools read only these tables, so every lookup is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    name_zh: str
    category: str
    price: float  # US dollars
    stock: int


@dataclass(frozen=True)
class Employee:
    name: str
    department: str
    office: str
    email: str
    start_date: str


CATEGORIES = ("stationery", "kitchen", "electronics", "garden", "toys", "outdoor")

PRODUCTS = tuple(Product(*row) for row in [
    ("P-101", "Graph Notebook", "方格笔记本", "stationery", 4.5, 120),
    ("P-102", "Gel Pen Set", "中性笔套装", "stationery", 7.25, 64),
    ("P-103", "Brass Stapler", "黄铜订书机", "stationery", 18.9, 12),
    ("P-104", "Desk Organizer", "桌面收纳盒", "stationery", 23.0, 0),
    ("P-111", "Cast Iron Skillet", "铸铁煎锅", "kitchen", 39.99, 8),
    ("P-112", "Bamboo Cutting Board", "竹砧板", "kitchen", 15.5, 33),
    ("P-113", "Pour-Over Kettle", "手冲壶", "kitchen", 44.0, 5),
    ("P-114", "Spice Rack", "调料架", "kitchen", 21.75, 17),
    ("P-121", "USB-C Charger", "USB-C 充电器", "electronics", 19.99, 80),
    ("P-122", "Wireless Mouse", "无线鼠标", "electronics", 24.5, 41),
    ("P-123", "Desk Lamp", "台灯", "electronics", 32.0, 14),
    ("P-124", "Portable Speaker", "便携音箱", "electronics", 58.0, 6),
    ("P-131", "Watering Can", "洒水壶", "garden", 12.4, 27),
    ("P-132", "Pruning Shears", "修枝剪", "garden", 16.8, 19),
    ("P-133", "Seed Starter Kit", "育苗套装", "garden", 9.95, 52),
    ("P-141", "Wooden Puzzle", "木质拼图", "toys", 14.0, 22),
    ("P-142", "Kite", "风筝", "toys", 11.5, 9),
    ("P-143", "Building Blocks", "积木", "toys", 29.9, 15),
    ("P-144", "Yo-Yo", "悠悠球", "toys", 3.75, 140),
    ("P-151", "Camping Lantern", "露营灯", "outdoor", 27.5, 11),
    ("P-152", "Water Bottle", "水壶", "outdoor", 13.25, 95),
    ("P-153", "Trail Backpack", "登山背包", "outdoor", 64.0, 4),
])

EMPLOYEES = tuple(Employee(*row) for row in [
    ("Alice Moreau", "Finance", "Lyon", "alice.moreau@example.com", "2016-03-14"),
    ("Bruno Keller", "Engineering", "Zurich", "bruno.keller@example.com", "2019-11-04"),
    ("Chen Jing", "Research", "Shanghai", "chen.jing@example.com", "2021-06-21"),
    ("Dara Okafor", "Sales", "Lagos", "dara.okafor@example.com", "2018-01-08"),
    ("Elif Demir", "Design", "Istanbul", "elif.demir@example.com", "2022-09-12"),
    ("Farid Haddad", "Engineering", "Montreal", "farid.haddad@example.com", "2015-05-25"),
    ("Greta Lindqvist", "Legal", "Stockholm", "greta.lindqvist@example.com", "2020-02-17"),
    ("Hiro Tanaka", "Research", "Osaka", "hiro.tanaka@example.com", "2017-07-03"),
    ("Ines Duarte", "Support", "Porto", "ines.duarte@example.com", "2023-04-10"),
    ("Jonas Weber", "Sales", "Hamburg", "jonas.weber@example.com", "2014-10-20"),
    ("Kavya Rao", "Engineering", "Pune", "kavya.rao@example.com", "2020-12-01"),
    ("Liu Yang", "Finance", "Chengdu", "liu.yang@example.com", "2019-03-18"),
    ("Marta Novak", "Design", "Ljubljana", "marta.novak@example.com", "2021-01-25"),
    ("Nils Berg", "Support", "Oslo", "nils.berg@example.com", "2016-08-29"),
    ("Wang Fang", "Legal", "Beijing", "wang.fang@example.com", "2018-05-07"),
    ("Zhou Lei", "Sales", "Shenzhen", "zhou.lei@example.com", "2022-02-14"),
])

PRODUCTS_BY_ID = {p.product_id: p for p in PRODUCTS}
EMPLOYEES_BY_NAME = {e.name.lower(): e for e in EMPLOYEES}
EMPLOYEE_FIELDS = ("department", "office", "email", "start_date")
