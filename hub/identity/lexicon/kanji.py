"""Variant kanji folded to their common form for matching (never for display).

NFKC already folds most CJK compatibility ideographs; the ones below are either traditional
forms (旧字体) that NFKC keeps, or the twelve "unified" compatibility ideographs (﨑, 﨔…) that
NFKC leaves alone. The list is the set people actually register names with in Japanese CRMs.
"""

from __future__ import annotations

VARIANTS: dict[str, str] = {
    "髙": "高", "﨑": "崎", "嵜": "崎", "碕": "崎",
    "齋": "斎", "齊": "斎", "斉": "斎", "齎": "斎",
    "邊": "辺", "邉": "辺", "邊": "辺",
    "澤": "沢", "濱": "浜", "濵": "浜", "櫻": "桜", "廣": "広", "國": "国", "圀": "国",
    "眞": "真", "德": "徳", "藏": "蔵", "龍": "竜", "槇": "槙", "瀨": "瀬", "冨": "富",
    "桒": "桑", "舘": "館", "實": "実", "惠": "恵", "壽": "寿", "兒": "児", "檜": "桧",
    "嶋": "島", "嶌": "島", "嶽": "岳", "峯": "峰", "萬": "万", "與": "与", "來": "来",
    "淺": "浅", "會": "会", "條": "条", "圓": "円", "曾": "曽", "增": "増", "黑": "黒",
    "榮": "栄", "藝": "芸", "𠮷": "吉", "塚": "塚", "﨔": "欅", "隆": "隆", "晴": "晴",
    "縣": "県", "壺": "壷", "靜": "静", "淸": "清", "莊": "荘", "豐": "豊", "禮": "礼",
    "彌": "弥", "彦": "彦", "祐": "祐", "禎": "禎", "福": "福", "神": "神", "祥": "祥",
    "綠": "緑", "錄": "録", "傳": "伝", "戶": "戸", "户": "戸", "籠": "篭", "驒": "騨",
    "螢": "蛍", "鷗": "鴎", "鹽": "塩", "巖": "巌", "關": "関", "爲": "為", "櫟": "櫟",
    "聰": "聡", "惠": "恵", "顯": "顕", "讓": "譲", "釼": "剣", "劍": "剣", "劒": "剣",
    "渕": "淵", "渊": "淵", "逹": "達", "凛": "凜", "杦": "杉", "栁": "柳", "桺": "柳",
    "竈": "竃", "徠": "徠", "曉": "暁", "穗": "穂", "稻": "稲", "埜": "野",
}
"""Variant -> common form. Identity entries (NFKC already does them) are dropped at import."""

VARIANTS = {k: v for k, v in VARIANTS.items() if k != v}
