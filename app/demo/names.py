"""Invented Chinese names for the demo district: common surnames weighted by frequency, given-name characters.

Every name is drawn at random from these lists; none belongs to a real student.
"""
from __future__ import annotations

import random

# Common surnames with rough relative frequencies (per mille of the population), with a Shanghai/Jiangsu tilt.
SURNAMES: list[tuple[str, float]] = [
    ("王", 71), ("李", 70), ("张", 68), ("刘", 53), ("陈", 52), ("杨", 36), ("黄", 27), ("赵", 23), ("吴", 22),
    ("周", 21), ("徐", 17), ("孙", 16), ("马", 15), ("朱", 15), ("胡", 13), ("郭", 12), ("何", 12), ("高", 11),
    ("林", 11), ("罗", 10), ("郑", 10), ("梁", 9), ("谢", 8), ("宋", 8), ("唐", 7), ("许", 7), ("韩", 7),
    ("冯", 7), ("邓", 7), ("曹", 6), ("彭", 6), ("曾", 6), ("肖", 6), ("田", 6), ("董", 5), ("袁", 5), ("潘", 5),
    ("于", 5), ("蒋", 5), ("蔡", 5), ("余", 5), ("杜", 4), ("叶", 4), ("程", 4), ("苏", 4), ("魏", 4), ("吕", 4),
    ("丁", 4), ("任", 4), ("沈", 6), ("姚", 3), ("卢", 3), ("姜", 3), ("崔", 3), ("钟", 3), ("谭", 3), ("陆", 5),
    ("汪", 3), ("范", 3), ("金", 3), ("施", 4), ("顾", 4), ("倪", 2), ("龚", 2), ("瞿", 1), ("秦", 2),
]

GIVEN_BOY = list("浩宇轩然博文杰涛明俊辉鹏伟强磊晨阳子豪睿泽宸皓铭凯航霖嘉逸瑞彬毅帆锐哲源旭东昊鑫志诚")
GIVEN_GIRL = list("欣怡雨萱梓涵诗琪佳悦思彤可馨梦瑶婷雅静晓琳慧敏淑芳颖倩璐洁蕾雪丽蓉菲玥妍语彤心瑜")
GIVEN_ANY = list("子一佳诗思嘉梓雨晨欣安宁乐天文海")

ADULT_MALE = list("建国华明军伟强勇平刚俊杰峰斌林志春海东立新")
ADULT_FEMALE = list("秀英丽芳敏静燕红霞萍娟玲琴梅兰美云凤慧")

_TOTAL = sum(w for _, w in SURNAMES)


def surname(rng: random.Random) -> str:
    x = rng.random() * _TOTAL
    for name, weight in SURNAMES:
        x -= weight
        if x <= 0:
            return name
    return SURNAMES[0][0]


def child_name(rng: random.Random, gender: str, family: str | None = None) -> str:
    pool = GIVEN_BOY if gender == "M" else GIVEN_GIRL
    first = family or surname(rng)
    if rng.random() < 0.25:
        return first + rng.choice(pool)
    second_pool = pool + GIVEN_ANY if rng.random() < 0.3 else pool
    a, b = rng.choice(GIVEN_ANY + pool), rng.choice(second_pool)
    while b == a:
        b = rng.choice(second_pool)
    return first + a + b


def adult_name(rng: random.Random, gender: str, family: str | None = None) -> str:
    pool = ADULT_MALE if gender == "M" else ADULT_FEMALE
    first = family or surname(rng)
    if rng.random() < 0.4:
        return first + rng.choice(pool)
    return first + rng.choice(pool) + rng.choice(pool)


def mobile(rng: random.Random) -> str:
    prefix = rng.choice(["130", "131", "133", "135", "136", "137", "138", "139", "150", "152", "155", "158",
                         "159", "177", "180", "181", "186", "187", "189", "199"])
    return prefix + f"{rng.randrange(10**8):08d}"
