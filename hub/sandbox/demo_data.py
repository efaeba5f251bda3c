"""Deterministic sandbox customers for HubSpot (CRM) and Zendesk Support (helpdesk).

:func:`generate` invents ``n`` people — about two thirds Japanese — with their companies, and
renders the raw, vendor-shaped payloads each tool would hold about them, with the mess real data
has between tools: email case and stray spaces, phone numbers written many ways, full-width
characters, kana in katakana, hiragana, half-width or not at all. Nothing is normalised; that is
the hub's job. ``truth`` says who is who so identity resolution can be scored, and ``traps`` names
the cases built to fool a naive matcher. :func:`seed_fakes` loads it all into the sandbox fakes
(:func:`seed_one` loads one tool's share).

Every domain is a made-up name under ``example.*``, so no real company is named.
"""

from __future__ import annotations

import gc
import random
from bisect import bisect
from dataclasses import dataclass, field
from typing import Any

import jaconv

Groups = tuple[str, str, str]  # a phone number as its three national digit groups
Reading = tuple[str, str, str, str, tuple[str, ...]]  # kanji, katakana, hiragana, half-width, romaji
KATA, HIRA, HALF = 1, 2, 3


def _rows(text: str) -> list[list[str]]:
    return [entry.split() for entry in text.replace("\n", ";").split(";") if entry.strip()]


def _readings(text: str) -> list[Reading]:
    return [(k, kata, jaconv.kata2hira(kata), jaconv.z2h(kata, kana=True, ascii=False, digit=False),
             tuple(roma.split("|"))) for k, kata, roma in _rows(text)]


# -- pools ---------------------------------------------------------------------------------
# 斉藤 and 斎藤 share a reading on purpose: same kana, different family names.
_SURNAMES = _readings("""
佐藤 サトウ sato|satou|satoh; 鈴木 スズキ suzuki; 高橋 タカハシ takahashi; 田中 タナカ tanaka
伊藤 イトウ ito|itou|itoh; 渡辺 ワタナベ watanabe; 山本 ヤマモト yamamoto; 中村 ナカムラ nakamura
小林 コバヤシ kobayashi; 加藤 カトウ kato|katou; 吉田 ヨシダ yoshida; 山田 ヤマダ yamada; 佐々木 ササキ sasaki
山口 ヤマグチ yamaguchi; 松本 マツモト matsumoto; 井上 イノウエ inoue; 木村 キムラ kimura; 林 ハヤシ hayashi
斎藤 サイトウ saito|saitoh; 清水 シミズ shimizu; 山崎 ヤマザキ yamazaki; 森 モリ mori; 池田 イケダ ikeda
橋本 ハシモト hashimoto; 阿部 アベ abe; 石川 イシカワ ishikawa; 山下 ヤマシタ yamashita; 中島 ナカジマ nakajima
石井 イシイ ishii; 小川 オガワ ogawa; 前田 マエダ maeda; 岡田 オカダ okada; 長谷川 ハセガワ hasegawa
藤田 フジタ fujita; 後藤 ゴトウ goto|gotoh; 近藤 コンドウ kondo|kondoh; 村上 ムラカミ murakami; 青木 アオキ aoki
遠藤 エンドウ endo|endoh; 坂本 サカモト sakamoto; 斉藤 サイトウ saito; 福田 フクダ fukuda; 太田 オオタ ota|ohta
西村 ニシムラ nishimura; 藤井 フジイ fujii; 金子 カネコ kaneko; 岡本 オカモト okamoto; 藤原 フジワラ fujiwara
中野 ナカノ nakano; 三浦 ミウラ miura; 原田 ハラダ harada; 中川 ナカガワ nakagawa; 松田 マツダ matsuda
竹内 タケウチ takeuchi; 小野 オノ ono; 田村 タムラ tamura; 中山 ナカヤマ nakayama; 和田 ワダ wada
石田 イシダ ishida; 上田 ウエダ ueda
""")
_GIVEN = _readings("""
太郎 タロウ taro|tarou; 一郎 イチロウ ichiro; 健太 ケンタ kenta; 翔太 ショウタ shota|shouta; 大輔 ダイスケ daisuke
拓也 タクヤ takuya; 直樹 ナオキ naoki; 健一 ケンイチ kenichi; 誠 マコト makoto; 浩 ヒロシ hiroshi; 隆 タカシ takashi
亮 リョウ ryo|ryou; 悠斗 ユウト yuto|yuuto; 蓮 レン ren; 大翔 ヒロト hiroto; 陽太 ヨウタ yota|youta
和也 カズヤ kazuya; 達也 タツヤ tatsuya; 雄一 ユウイチ yuichi; 剛 ツヨシ tsuyoshi; 修 オサム osamu; 学 マナブ manabu
稔 ミノル minoru; 聡 サトシ satoshi; 光 ヒカル hikaru; 優 ユウ yu|yuu; 翼 ツバサ tsubasa; 大樹 ダイキ daiki
慎也 シンヤ shinya; 裕介 ユウスケ yusuke; 花子 ハナコ hanako; 陽子 ヨウコ yoko|youko; 恵子 ケイコ keiko
美咲 ミサキ misaki; さくら サクラ sakura; 陽菜 ヒナ hina; 結衣 ユイ yui; 愛 アイ ai; 真由美 マユミ mayumi
由美子 ユミコ yumiko; 智子 トモコ tomoko; 裕子 ユウコ yuko|yuuko; 明美 アケミ akemi; 直子 ナオコ naoko
久美子 クミコ kumiko; 彩 アヤ aya; 麻衣 マイ mai; 千尋 チヒロ chihiro; 奈々 ナナ nana; 香織 カオリ kaori; 舞 マイ mai
美穂 ミホ miho; 恵 メグミ megumi; 綾香 アヤカ ayaka; 沙織 サオリ saori; 理恵 リエ rie; 早紀 サキ saki; 葵 アオイ aoi
凛 リン rin; 楓 カエデ kaede
""")
_WEST_FIRST = """James John Robert Michael William David Richard Joseph Thomas Charles Mary Patricia
Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Emily Olivia Emma Daniel Matthew Anthony
Mark Laura Rachel Kevin Brian Amanda Megan Chris Alex Sam Taylor Jordan Ryan Nicole""".split()
_WEST_LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
Lopez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson
Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell O'Brien""".split()

_JP_STEMS = _rows("""
さくら サクラ sakura; 青葉 アオバ aoba; 日の出 ヒノデ hinode; 若葉 ワカバ wakaba; 北斗 ホクト hokuto
みらい ミライ mirai; 光陽 コウヨウ koyo; 白樺 シラカバ shirakaba; 東雲 シノノメ shinonome; 暁 アカツキ akatsuki
つばめ ツバメ tsubame; かもめ カモメ kamome; 朝霧 アサギリ asagiri; 銀河 ギンガ ginga; 清流 セイリュウ seiryu
大地 ダイチ daichi; 新星 シンセイ shinsei; 千代田 チヨダ chiyoda; 武蔵野 ムサシノ musashino; 浪速 ナニワ naniwa
葵 アオイ aoi; 菜の花 ナノハナ nanohana; ひまわり ヒマワリ himawari; 山吹 ヤマブキ yamabuki; 常盤 トキワ tokiwa
瑞雲 ズイウン zuiun; ABC エービーシー abc; NEXT ネクスト next; アルファ アルファ alpha; ミナト ミナト minato
""")
# The industry codes are the HubSpot option values the sandbox portal defines.
_JP_KINDS = _rows("""
商事 ショウジ shoji RETAIL; 物産 ブッサン bussan RETAIL; 工業 コウギョウ kogyo MACHINERY; 電機 デンキ denki MACHINERY
システム システム system COMPUTER_SOFTWARE; ソリューションズ ソリューションズ solutions INFORMATION_TECHNOLOGY_AND_SERVICES
製作所 セイサクショ seisakusho MACHINERY; 自動車 ジドウシャ jidosha AUTOMOTIVE; 建設 ケンセツ kensetsu CONSTRUCTION
食品 ショクヒン shokuhin FOOD_BEVERAGES; 医療 イリョウ iryo HOSPITAL_HEALTH_CARE; 不動産 フドウサン fudosan REAL_ESTATE
通信 ツウシン tsushin TELECOMMUNICATIONS; 会計 カイケイ kaikei ACCOUNTING; 保険 ホケン hoken INSURANCE
企画 キカク kikaku MARKETING_AND_ADVERTISING
""")
_JP_REGIONS = _rows("""
東京 トウキョウ tokyo; 大阪 オオサカ osaka; 名古屋 ナゴヤ nagoya; 九州 キュウシュウ kyushu; 東北 トウホク tohoku
北海道 ホッカイドウ hokkaido; 関西 カンサイ kansai; 横浜 ヨコハマ yokohama; 京都 キョウト kyoto; 神戸 コウベ kobe
""")
_JP_LEGAL = ["株式会社{}"] * 11 + ["{}株式会社"] * 7 + ["有限会社{}", "合同会社{}"]
_EN_STEMS = """Acme Northwind Contoso Fabrikam Tailspin Wingtip Litware Proseware Lucerne Woodgrove Coho
Adatum Relecloud Stonebridge Silverleaf Brightwave Ironpeak Clearwater Maplestone Oakhurst""".split()
_EN_KINDS = _rows("""
Systems COMPUTER_SOFTWARE; Motors AUTOMOTIVE; Foods FOOD_BEVERAGES; Capital FINANCIAL_SERVICES; Bank BANKING
Software COMPUTER_SOFTWARE; Learning EDUCATION_MANAGEMENT; Manufacturing MACHINERY; Online INTERNET
Analytics INFORMATION_TECHNOLOGY_AND_SERVICES; Health HOSPITAL_HEALTH_CARE; Media MARKETING_AND_ADVERTISING
""")
_EN_REGIONS = "Pacific Atlantic Northern Southern Western Eastern Central Global United Summit".split()
_EN_LEGAL = ["{} Inc.", "{}, Inc.", "{} Corp.", "{} Ltd.", "{} LLC", "{} Co."]

# Japanese rows: prefecture, city, zip prefix, area code, towns. US rows: state, city, zip, area code.
_JP_AREAS = _rows("""
東京都 渋谷区 150 03 道玄坂,神南,恵比寿; 東京都 千代田区 100 03 丸の内,大手町,神田錦町; 東京都 港区 107 03 赤坂,芝浦
大阪府 大阪市北区 530 06 梅田,中之島; 愛知県 名古屋市中区 460 052 栄,錦; 福岡県 福岡市博多区 812 092 博多駅前,中洲
北海道 札幌市中央区 060 011 北一条西,大通西; 神奈川県 横浜市西区 220 045 みなとみらい,高島
京都府 京都市下京区 600 075 烏丸通,四条通; 宮城県 仙台市青葉区 980 022 一番町,中央; 広島県 広島市中区 730 082 紙屋町
""")
_US_AREAS = _rows("""
CA San_Francisco 94105 415; NY New_York 10001 212; WA Seattle 98101 206; TX Austin 78701 512
MA Boston 02110 617; IL Chicago 60601 312
""")
_US_AREA_CODES = [str(a) for a in range(201, 990) if a % 100 != 11]
_US_STREETS = ["Market St", "Main St", "Mission St", "5th Ave", "Pine St", "Oak Ave", "Broadway"]
_FREE_MAIL = ["mail.example.com", "mail.example.jp", "webmail.example.net", "post.example.org"]

_JP_TICKETS = _rows("""
請求書の再発行について 先月分の請求書を紛失しました。再発行をお願いできますでしょうか。
ログインできません パスワードを再設定してもログインできません。至急確認をお願いします。
CSVエクスポートが文字化けする エクスポートしたCSVをExcelで開くと文字化けします。
契約プランの変更について 来月からプランを変更したいと考えています。手続きを教えてください。
担当者変更のお知らせ 弊社の担当者が変更になりましたのでご連絡いたします。
APIの利用制限について APIで429エラーが返ってきます。上限を教えてください。
解約の手続きについて 今月末で解約したいのですが、必要な手続きを教えてください。
領収書の宛名変更 領収書の宛名を正式な社名に変更していただけますか。
""")
_EN_TICKETS = [line.split(" | ") for line in """Cannot export report | The export button spins forever.
Login not working | I reset my password but still cannot sign in.
Invoice address is wrong | Our invoice shows the old billing address. Please update it.
How do I add a user? | We hired a new teammate. How do I add them to our account?
API rate limit errors | We keep getting HTTP 429 from the API during our nightly sync.
Cancel subscription | Please cancel our subscription at the end of this billing period.
Data import failed | The CSV import stops at row 1,204 with an unknown error.""".splitlines()]
_JOBS = ("部長 課長 係長 主任 担当 マネージャー 代表取締役".split(),
         ["Manager", "Director", "Engineer", "VP of Sales", "Analyst", "CTO"])
_DEPTS = ("営業部 情報システム部 総務部 経理部 マーケティング部 カスタマーサクセス部".split(),
          ["Sales", "IT", "Finance", "Marketing", "Operations", "Support"])
_NOTES = (["", "", "", "", "VIP対応", "電話連絡は午後希望"], ["", "", "", "", "VIP", "Prefers email"])
_TAGS = ["vip", "trial", "enterprise", "newsletter", "partner"]
_EMPLOYEES = ["3", "8", "15", "30", "48", "120", "350", "800", "1500", "5000"]
# Email local-part shapes: {g} given, {f} family, {i} initial, {d} a number.
_WORK_LOCAL = ["{g}.{f}", "{g}.{f}", "{f}.{g}", "{i}.{f}", "{f}_{g}", "{i}{f}"]
_PERSONAL_LOCAL = ["{g}.{f}{d}", "{f}{g}", "{g}_{f}{d}", "{g}{d}"]


def _weighted(pairs: dict[Any, float]) -> tuple[list[Any], list[float]]:
    total, cum = 0.0, []
    for weight in pairs.values():
        total += weight
        cum.append(total)
    return list(pairs), [c / total for c in cum]


_PRESENCE = _weighted({"hs": 45, "zd": 25, "both": 30})
_STAGES = _weighted({"subscriber": 15, "lead": 35, "marketingqualifiedlead": 15, "salesqualifiedlead": 8,
                     "opportunity": 7, "customer": 17, "evangelist": 3})
_STAGES_SUPPORTED = _weighted({"opportunity": 10, "customer": 75, "evangelist": 15})  # they file tickets
_KANA = _weighted({KATA: 70, HIRA: 12, HALF: 6, None: 12})
_JP_PHONE = _weighted({"hyphen": 50, "plain": 15, "intl_dash": 8, "intl_space": 7, "paren": 8, "wide": 10,
                       "choon": 2})
_PHONE_STYLES = {  # {0}-{1}-{2} are the digit groups, {3} the area code without its trunk 0
    "hyphen": "{0}-{1}-{2}", "plain": "{0}{1}{2}", "paren": "({0}){1}-{2}", "wide": "{0}-{1}-{2}",
    "intl_dash": "+81-{3}-{1}-{2}", "intl_space": "+81 {3} {1} {2}",
    "choon": "{0}ー{1}ー{2}",  # an IME slip: the long-vowel mark typed for a hyphen
    "us_plus": "+1 ({0}) {1}-{2}", "us_paren": "({0}) {1}-{2}", "us_dash": "{0}-{1}-{2}",
    "us_space": "+1 {0} {1} {2}", "e164": "+1{0}{1}{2}",
}
_US_PHONE = _weighted({"us_plus": 45, "us_paren": 20, "us_dash": 20, "us_space": 10, "e164": 5})
_TICKETS_PER_USER = _weighted({0: 30, 1: 35, 2: 20, 3: 10, 4: 5})
_STATUS = _weighted({"new": 10, "open": 25, "pending": 15, "hold": 5, "solved": 30, "closed": 15})
_PRIORITY = _weighted({None: 30, "low": 15, "normal": 35, "high": 15, "urgent": 5})
_CHANNEL = _weighted({"email": 45, "web": 25, "api": 5, "chat": 15, "twitter": 3, "voice": 7})
_JP_COUNTRY = _weighted({"Japan": 70, "JP": 20, "日本": 10})
_WIDE = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"})


def _draw(rng: random.Random, table: tuple[list[Any], list[float]]) -> Any:
    return table[0][bisect(table[1], rng.random())]


def _pick(rng: random.Random, seq: list[Any] | tuple[Any, ...]) -> Any:
    # rng.choice and rng.randrange cost several times more; it shows at a million people.
    return seq[int(rng.random() * len(seq))]


def _digits(rng: random.Random, k: int = 4) -> str:
    return str(int(rng.random() * 10**k)).zfill(k)


def _wide(text: str) -> str:
    return text.translate(_WIDE)


@dataclass
class DemoData:
    """Raw vendor payloads for one invented world, plus the ground truth behind them.

    Records carry private ``_``-prefixed keys (``_key``, ``_org``, ``_requester``) that tie them
    to the world; :func:`seed_fakes` strips them before inserting.

    Attributes:
        truth: Person key -> ``[(tool, index)]``; tool ``"hubspot"`` indexes ``hubspot_contacts``,
            ``"zendesk"`` indexes ``zendesk_users``. Every person record appears exactly once.
        org_truth: The same for org keys over ``hubspot_companies`` and ``zendesk_organizations``.
        traps: Planted identity-resolution traps, as tuples of person keys. ``same_name`` and
            ``shared_main_phone`` pairs are different people who must not be merged;
            ``different_email`` people each have two records linked only by a phone number
            written differently in each tool.
    """

    hubspot_companies: list[dict[str, Any]] = field(default_factory=list)
    hubspot_contacts: list[dict[str, Any]] = field(default_factory=list)
    zendesk_organizations: list[dict[str, Any]] = field(default_factory=list)
    zendesk_users: list[dict[str, Any]] = field(default_factory=list)
    zendesk_tickets: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    org_truth: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    traps: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """Record counts per list and how people overlap between the two tools."""
        spans = [len(places) for places in self.truth.values()]
        only_hs = sum(len(places) == 1 and places[0][0] == "hubspot" for places in self.truth.values())
        return {
            "people": len(self.truth),
            "hubspot_companies": len(self.hubspot_companies),
            "hubspot_contacts": len(self.hubspot_contacts),
            "zendesk_organizations": len(self.zendesk_organizations),
            "zendesk_users": len(self.zendesk_users),
            "zendesk_tickets": len(self.zendesk_tickets),
            "only_hubspot": only_hs,
            "only_zendesk": spans.count(1) - only_hs,
            "both": spans.count(2),
            "both_different_email": len(self.traps.get("different_email", [])),
        }


# -- the invented world --------------------------------------------------------------------
def _corporate_number(rng: random.Random) -> str:
    """A 13-digit 法人番号 with a valid leading check digit (National Tax Agency formula)."""
    base = str(100_000_000_000 + int(rng.random() * 900_000_000_000))
    weighted = sum(int(d) * (2 if i % 2 else 1) for i, d in enumerate(reversed(base)))
    return f"{9 - weighted % 9}{base}"


def _phone(rng: random.Random, area: str | None, used: set[Groups]) -> Groups:
    """A number nobody else has: a Japanese mobile (``area`` None), landline (``0…``) or US one.

    Unplanned collisions would be false identity evidence, so numbers are kept unique; only
    colleagues who give their company's main line share one.
    """
    while True:
        if area is None:
            d = _digits(rng, 8)
            g = (_pick(rng, ("090", "080", "070")), d[:4], d[4:])
        elif area[0] == "0":  # Tokyo and Osaka dial 0X-XXXX-XXXX, elsewhere 0XX-XXX-XXXX
            lo, span = (3000, 7000) if len(area) == 2 else (200, 800)
            g = (area, str(lo + int(rng.random() * span)), _digits(rng))
        else:  # the film-style 555 exchange; US numbers move with people, so any area code
            g = (area if rng.random() < 0.5 else _pick(rng, _US_AREA_CODES), "555", _digits(rng))
        if g not in used:
            used.add(g)
            return g


def _combo(index: int, combos: list[int], n_stems: int, n_regions: int) -> tuple[int, int, int | None, str]:
    """Stem, kind, region (None on the first pass) and a number that keep org names unique."""
    combo, cycle = combos[index % len(combos)], index // len(combos)
    region = (cycle - 1) % n_regions if cycle else None
    number = str((cycle - 1) // n_regions + 1) if cycle > n_regions else ""
    return combo % n_stems, combo // n_stems, region, number


def _make_org(
    rng: random.Random, i: int, lang_index: int, jp: bool, combos: list[int], used: set[Groups]
) -> dict[str, Any]:
    org: dict[str, Any] = {"key": f"org-{i + 1:05d}", "jp": jp, "hs": False, "zd": False}
    if jp:
        s, k, r, extra = _combo(lang_index, combos, len(_JP_STEMS), len(_JP_REGIONS))
        stem, kind = _JP_STEMS[s], _JP_KINDS[k]
        region = _JP_REGIONS[r] if r is not None else ("", "", "")
        org["stem"] = region[0] + stem[0] + kind[0] + extra
        org["kana"] = region[1] + stem[1] + kind[1]
        org["domain"] = "-".join(filter(None, (stem[2], kind[2], region[2]))) + extra + ".example.jp"
        org["name"] = _pick(rng, _JP_LEGAL).format(org["stem"])
        org["corporate_number"] = _corporate_number(rng)
        org["area"] = _pick(rng, _JP_AREAS)
    else:
        s, k, r, extra = _combo(lang_index, combos, len(_EN_STEMS), len(_EN_REGIONS))
        kind = _EN_KINDS[k]
        region_word = _EN_REGIONS[r] if r is not None else ""
        org["stem"] = " ".join(filter(None, (_EN_STEMS[s], region_word, kind[0]))) + extra
        org["domain"] = org["stem"].lower().replace(" ", "-") + ".example.com"
        org["name"] = _pick(rng, _EN_LEGAL).format(org["stem"])
        org["area"] = _pick(rng, _US_AREAS)
    org["phone"] = _phone(rng, org["area"][3], used)
    org["industry"] = kind[-1]
    return org


def _make_orgs(rng: random.Random, n_orgs: int, used: set[Groups]) -> list[dict[str, Any]]:
    jp_combos = rng.sample(range(len(_JP_STEMS) * len(_JP_KINDS)), len(_JP_STEMS) * len(_JP_KINDS))
    en_combos = rng.sample(range(len(_EN_STEMS) * len(_EN_KINDS)), len(_EN_STEMS) * len(_EN_KINDS))
    orgs, counts = [], [0, 0]  # per language, so each language walks its own name combinations
    for i in range(n_orgs):
        jp = rng.random() < 0.6
        orgs.append(_make_org(rng, i, counts[jp], jp, jp_combos if jp else en_combos, used))
        counts[jp] += 1
    return orgs


def _make_person(
    rng: random.Random, key: str, orgs: list[dict[str, Any]], by_lang: list[list[int]], used: set[Groups]
) -> dict[str, Any]:
    jp = rng.random() < 0.65
    p: dict[str, Any] = {"key": key, "jp": jp, "tools": _draw(rng, _PRESENCE)}
    p["variant"], p["plain"] = False, False  # a respelled Zendesk email; a trap's name kept verbatim
    if jp:
        p["family"], p["given"] = _pick(rng, _SURNAMES), _pick(rng, _GIVEN)
    else:
        p["family"], p["given"] = _pick(rng, _WEST_LAST), _pick(rng, _WEST_FIRST)
    org = None
    if orgs and rng.random() < 0.85:
        # Most people work for a company of their own language; a few cross over.
        lang = jp if rng.random() < 0.92 else not jp
        org = orgs[_pick(rng, by_lang[lang] or by_lang[not lang])]
    p["org"], p["in_japan"] = org, org["jp"] if org else jp
    area = org["area"] if org else _pick(rng, _JP_AREAS if jp else _US_AREAS)
    p["mobile"] = _phone(rng, None if p["in_japan"] else area[3], used)
    p["direct"] = _phone(rng, area[3], used) if org and rng.random() < 0.5 else None
    p["main_line"] = org is not None and rng.random() < 0.03
    p["diff_email"] = p["tools"] == "both" and rng.random() < 0.10
    return p


def _plant_traps(people: list[dict[str, Any]]) -> dict[str, list[tuple[str, ...]]]:
    traps: dict[str, list[tuple[str, ...]]] = {"same_name": [], "shared_main_phone": []}
    # 同姓同名: a HubSpot-only and a Zendesk-only person at different companies share a kanji name.
    hs_only = [p for p in people if p["jp"] and p["org"] and p["tools"] == "hs"]
    zd_only = [p for p in people if p["jp"] and p["org"] and p["tools"] == "zd"]
    for a, b in zip(hs_only[:2], zd_only[-2:]):
        if a["org"] is not b["org"]:
            b["family"], b["given"] = a["family"], a["given"]
            a["plain"] = b["plain"] = True  # written identically, so only the name can mislead
            traps["same_name"].append((a["key"], b["key"]))
    # Two colleagues whose HubSpot "phone" is the company's main line.
    first_at: dict[str, dict[str, Any]] = {}
    for p in people:
        if p["org"] and p["tools"] != "zd":
            other = first_at.setdefault(p["org"]["key"], p)
            if other is not p:
                other["main_line"] = p["main_line"] = True
                traps["shared_main_phone"].append((other["key"], p["key"]))
                break
    both = [p for p in people if p["tools"] == "both"]
    if both and not any(p["diff_email"] for p in both):  # a small world still gets one
        both[0]["diff_email"] = True
    traps["different_email"] = [(p["key"],) for p in both if p["diff_email"]]
    return traps


def _locals(rng: random.Random, p: dict[str, Any]) -> tuple[str, str]:
    """Local parts for a work and a personal email address."""
    if p["jp"]:
        g, f = _pick(rng, p["given"][4]), _pick(rng, p["family"][4])
    else:
        g, f = p["given"].lower(), p["family"].lower().replace("'", "")
    d = str(60 + int(rng.random() * 40))
    return (_pick(rng, _WORK_LOCAL).format(g=g, f=f, i=g[0], d=d),
            _pick(rng, _PERSONAL_LOCAL).format(g=g, f=f, i=g[0], d=d))


def _unique(local: str, domain: str, used: set[str]) -> str:
    # Zendesk refuses a second user with the same address, so the world never has one.
    email, n = f"{local}@{domain}", 1
    while email in used:
        n += 1
        email = f"{local}{n}@{domain}"
    used.add(email)
    return email


def _assign_emails(rng: random.Random, people: list[dict[str, Any]]) -> None:
    used: set[str] = set()
    for p in people:
        work, personal = _locals(rng, p)
        p["personal"] = _unique(personal, _pick(rng, _FREE_MAIL), used)
        p["work"] = _unique(work, p["org"]["domain"], used) if p["org"] else None
        p["hs_email"] = p["work"] if p["work"] and rng.random() < 0.9 else p["personal"]
        if p["diff_email"]:  # work address (or one free mail) in HubSpot, another in Zendesk
            other = p["personal"] if p["hs_email"] != p["personal"] else None
            p["zd_email"] = other or _unique(work, _pick(rng, _FREE_MAIL), used)
        elif p["tools"] == "zd":
            p["zd_email"] = p["work"] if p["work"] and rng.random() < 0.75 else p["personal"]
        else:
            p["zd_email"] = p["hs_email"]
            # HubSpot lower-cases and trims emails itself; Zendesk keeps what it was given.
            p["variant"] = p["tools"] == "both" and rng.random() < 0.15


# -- rendering vendor payloads -------------------------------------------------------------
def _fmt_phone(rng: random.Random, g: Groups, style: str | None = None) -> str:
    style = style or _draw(rng, _US_PHONE if g[1] == "555" else _JP_PHONE)
    text = _PHONE_STYLES[style].format(*g, g[0][1:])
    return _wide(text) if style == "wide" else text


def _fmt_zip(rng: random.Random, prefix: str) -> str:
    code, r = f"{prefix}-{_digits(rng)}", rng.random()
    if r < 0.80:
        return code
    if r < 0.87:
        return code.replace("-", "")
    if r < 0.93:
        return "〒" + (code if r < 0.90 else code.replace("-", ""))
    return _wide(code)


def _address(rng: random.Random, area: list[str]) -> dict[str, str]:
    if len(area) == 4:  # United States
        street = f"{1 + int(rng.random() * 1999)} {_pick(rng, _US_STREETS)}"
        country = _pick(rng, ("United States", "United States", "US", "USA"))
        return {"zip": area[2], "state": area[0], "city": area[1].replace("_", " "), "address": street,
                "country": country}
    street = f"{_pick(rng, area[4].split(','))}{1 + int(rng.random() * 5)}-{1 + int(rng.random() * 29)}"
    street += f"-{1 + int(rng.random() * 19)}"
    if rng.random() < 0.4:
        street += f" {_pick(rng, _JP_STEMS)[0]}ビル{2 + int(rng.random() * 10)}F"
    return {"zip": _fmt_zip(rng, area[2]), "state": area[0], "city": area[1], "address": street,
            "country": _draw(rng, _JP_COUNTRY)}


def _email_variant(rng: random.Random, email: str) -> str:
    """The same address as a person or an import might have mangled it."""
    r = rng.random()
    if r < 0.45:  # Taro.Yamada@Sakura-Shoji.example.jp
        local, _, domain = email.partition("@")
        host, _, rest = domain.partition(".")
        cap = ".".join(w.capitalize() for w in local.split("."))
        return f"{cap}@{'-'.join(w.capitalize() for w in host.split('-'))}.{rest}"
    if r < 0.65:
        return email.upper()
    return email + " " if r < 0.9 else " " + email


def _odd_email(rng: random.Random, email: str) -> str:
    """Rarely a full-width local part (typed with the IME on) or a trailing space."""
    r = rng.random()
    if r < 0.015:
        local, _, domain = email.partition("@")
        return f"{_wide(local)}@{domain}"
    return email + " " if r < 0.03 else email


def _odd(rng: random.Random, text: str) -> str:
    """Rarely widen ASCII to full-width or leave a trailing space, as hand-typed data does."""
    r = rng.random()
    if r < 0.015:
        return _wide(text)
    return text + " " if r < 0.03 else text


def _kana_forms(rng: random.Random, p: dict[str, Any]) -> tuple[int | None, bool]:
    """The kana form HubSpot holds (None: none) and whether Zendesk holds kana: never neither."""
    if not p["jp"]:
        return None, False
    hs_form, zd_kana = _draw(rng, _KANA), rng.random() < 0.6
    if p["tools"] == "zd":
        return None, True
    if hs_form is None and (p["tools"] == "hs" or not zd_kana):
        hs_form = KATA
    return hs_form, zd_kana


_SWAPPED = {"firstname": "lastname", "lastname": "firstname",
            "firstname_kana": "lastname_kana", "lastname_kana": "firstname_kana"}


def _jp_names(rng: random.Random, p: dict[str, Any], kana: int | None) -> dict[str, str]:
    fam, giv = p["family"], p["given"]
    props = {"firstname": giv[0], "lastname": fam[0]}
    if kana is not None:
        props |= {"firstname_kana": giv[kana], "lastname_kana": fam[kana]}
    r = 1.0 if p["plain"] else rng.random()
    if r < 0.03:  # the whole name crammed into one field, kana likewise
        sep = _pick(rng, (" ", "\u3000"))
        crammed = {"lastname": fam[0] + sep + giv[0]}
        return crammed if kana is None else crammed | {"lastname_kana": fam[kana] + sep + giv[kana]}
    if r < 0.07:  # family name typed into a western form's first box, kana likewise
        return {_SWAPPED[k]: v for k, v in props.items()}
    return props


def _hs_contact(rng: random.Random, p: dict[str, Any], kana: int | None) -> dict[str, Any]:
    org = p["org"]
    c: dict[str, Any] = {"_key": p["key"], "_org": None}
    if p["jp"]:
        c |= _jp_names(rng, p, kana)
    else:
        c["firstname"], c["lastname"] = _odd(rng, p["given"]), _odd(rng, p["family"])
    email = p["hs_email"]
    c["email"] = _odd_email(rng, email)
    if p["main_line"]:
        c["phone"] = _fmt_phone(rng, org["phone"], "hyphen" if org["jp"] else "us_paren")
    elif p["direct"] and not p["diff_email"]:
        c["phone"] = _fmt_phone(rng, p["direct"])
    if p["diff_email"]:  # the bridge to Zendesk, written the plain domestic way here
        c["mobilephone"] = _fmt_phone(rng, p["mobile"], "hyphen" if p["in_japan"] else "us_dash")
    elif rng.random() < 0.6:
        c["mobilephone"] = _fmt_phone(rng, p["mobile"])
    if org:
        if email == p["work"] or rng.random() < 0.6:
            c["_org"] = org["key"]
        c["company"] = org["name"] if rng.random() < 0.8 else org["stem"]
        c["jobtitle"], c["department"] = _pick(rng, _JOBS[not org["jp"]]), _pick(rng, _DEPTS[not org["jp"]])
    if rng.random() < 0.7:
        c |= _address(rng, org["area"] if org else _pick(rng, _JP_AREAS if p["in_japan"] else _US_AREAS))
    c["lifecyclestage"] = _draw(rng, _STAGES_SUPPORTED if p["tools"] == "both" else _STAGES)
    c["hs_email_optout"] = "true" if rng.random() < 0.05 else "false"
    return c


def _zd_name(rng: random.Random, p: dict[str, Any], kana: bool) -> str:
    fam, giv = p["family"], p["given"]
    if not p["jp"]:
        return _odd(rng, f"{giv} {fam}")
    r = 0.5 if p["plain"] else rng.random()
    if r < 0.05:  # signed up in romaji
        return f"{giv[4][0].capitalize()} {fam[4][0].capitalize()}"
    if r < 0.20 and kana:  # no space is only safe when the kana say where the family name ends
        return fam[0] + giv[0]
    space, trailing = " " if r < 0.6 else "\u3000", " " if r > 0.98 else ""
    return fam[0] + space + giv[0] + trailing


def _zd_user(rng: random.Random, p: dict[str, Any], kana: bool) -> dict[str, Any]:
    org = p["org"]
    fields: dict[str, Any] = {}
    if kana:
        fields["family_name_kana"], fields["given_name_kana"] = p["family"][KATA], p["given"][KATA]
    supported = p["tools"] == "both" or rng.random() < 0.5
    fields["lifecycle"] = "customer" if supported else _pick(rng, ("lead", "other"))
    u: dict[str, Any] = {"_key": p["key"], "_org": None, "name": _zd_name(rng, p, kana)}
    email = p["zd_email"]
    u["email"] = _email_variant(rng, email) if p["variant"] else _odd_email(rng, email)
    if p["diff_email"]:
        style = _pick(rng, ("intl_space", "wide", "paren")) if p["in_japan"] else "us_plus"
        u["phone"] = _fmt_phone(rng, p["mobile"], style)
    elif rng.random() < 0.6:
        u["phone"] = _fmt_phone(rng, p["direct"] or p["mobile"])
    if org and (email == p["work"] or rng.random() < 0.3):
        u["_org"] = org["key"]  # Zendesk maps users to organizations by email domain
    u["user_fields"] = fields
    u["tags"] = [_pick(rng, _TAGS)] if rng.random() < 0.2 else []
    u["time_zone"] = "Asia/Tokyo" if p["in_japan"] else "America/Los_Angeles"
    u["locale"] = "ja" if p["jp"] else "en-US"
    u["notes"] = _pick(rng, _NOTES[not p["jp"]])
    return u


def _hs_company(rng: random.Random, org: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = {"_key": org["key"], "name": _odd(rng, org["name"]), "domain": org["domain"]}
    if org["jp"] and rng.random() < 0.75:
        c["name_kana"] = org["kana"]
    c["phone"] = _fmt_phone(rng, org["phone"])
    c["industry"], c["numberofemployees"] = org["industry"], _pick(rng, _EMPLOYEES)
    c |= _address(rng, org["area"])
    del c["country"]  # not a company property this portal uses
    if org["jp"] and rng.random() < 0.8:
        c["corporate_number"] = org["corporate_number"]
    c["website"] = f"https://www.{org['domain']}"
    return c


def _zd_org(rng: random.Random, org: dict[str, Any]) -> dict[str, Any]:
    name, fields = org["name"], {}
    if org["jp"]:
        if rng.random() < 0.3:  # abbreviated 株式会社, or no legal form at all
            abbr = _pick(rng, ("(株)", "（株）", ""))
            name = abbr + org["stem"] if name.startswith("株式会社") else org["stem"] + abbr
        if rng.random() < 0.6:
            fields["name_kana"] = org["kana"]
        if rng.random() < 0.5:
            fields["corporate_number"] = org["corporate_number"]
    return {"_key": org["key"], "name": name, "domain_names": [org["domain"]] if rng.random() < 0.9 else [],
            "organization_fields": fields, "tags": ["jp"] if org["jp"] else []}


def _tickets(rng: random.Random, p: dict[str, Any], start: int) -> list[dict[str, Any]]:
    out = []
    for i in range(_draw(rng, _TICKETS_PER_USER)):
        subject, body = _pick(rng, _JP_TICKETS if p["jp"] else _EN_TICKETS)
        out.append({"_key": f"t-{start + i + 1:07d}", "_requester": p["key"], "subject": subject,
                    "description": body, "status": _draw(rng, _STATUS), "priority": _draw(rng, _PRIORITY),
                    "via": {"channel": _draw(rng, _CHANNEL)}})
    return out


# -- public API ----------------------------------------------------------------------------
def generate(n: int = 500, *, seed: int = 0) -> DemoData:
    """Invent ``n`` distinct people and render what HubSpot and Zendesk would hold about them.

    About 45% live only in HubSpot, 25% only in Zendesk and 30% in both; about 65% are Japanese;
    there is roughly one organization per eight people. The output depends only on the arguments.

    Args:
        n: Number of distinct people.
        seed: Seed of the private random generator.

    Returns:
        The payloads, the ground truth and the planted traps.
    """
    # A million small dicts would wake the cycle collector again and again, and there are no cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(n, random.Random(seed))
    finally:
        if collecting:
            gc.enable()


def _generate(n: int, rng: random.Random) -> DemoData:
    used_phones: set[Groups] = set()
    orgs = _make_orgs(rng, max(1, round(n / 8)) if n else 0, used_phones)
    by_lang: list[list[int]] = [[], []]
    for i, org in enumerate(orgs):
        by_lang[org["jp"]].append(i)
    width = max(5, len(str(n)))
    people = [_make_person(rng, f"p-{i + 1:0{width}d}", orgs, by_lang, used_phones) for i in range(n)]
    data = DemoData(traps=_plant_traps(people))
    _assign_emails(rng, people)
    for p in people:
        places = data.truth[p["key"]] = []
        hs_kana, zd_kana = _kana_forms(rng, p)
        if p["tools"] != "zd":
            places.append(("hubspot", len(data.hubspot_contacts)))
            data.hubspot_contacts.append(contact := _hs_contact(rng, p, hs_kana))
            if contact["_org"]:
                p["org"]["hs"] = True
        if p["tools"] != "hs":
            places.append(("zendesk", len(data.zendesk_users)))
            data.zendesk_users.append(user := _zd_user(rng, p, zd_kana))
            if user["_org"]:
                p["org"]["zd"] = True
            data.zendesk_tickets += _tickets(rng, p, len(data.zendesk_tickets))
    for org in orgs:  # an organization exists in a tool only if someone there belongs to it
        places = data.org_truth[org["key"]] = []
        if org["hs"]:
            places.append(("hubspot", len(data.hubspot_companies)))
            data.hubspot_companies.append(_hs_company(rng, org))
        if org["zd"]:
            places.append(("zendesk", len(data.zendesk_organizations)))
            data.zendesk_organizations.append(_zd_org(rng, org))
    return data


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


_STREAMS = {  # tool -> (stream, DemoData list, field that receives the resolved link), parents first
    "hubspot": (("companies", "hubspot_companies", None),
                ("contacts", "hubspot_contacts", "associatedcompanyid")),
    "zendesk": (("organizations", "zendesk_organizations", None),
                ("users", "zendesk_users", "organization_id"),
                ("tickets", "zendesk_tickets", "requester_id")),
}


def seed_fakes(data: DemoData, hubspot: Any, zendesk: Any) -> dict[str, dict[str, str]]:
    """Insert the demo world into sandbox fakes through their public ``insert`` method only.

    Companies and organizations go first so that contacts get ``associatedcompanyid``, users
    ``organization_id`` and tickets ``requester_id``. Either fake may be None to skip that tool.

    Args:
        data: What :func:`generate` returned.
        hubspot: Anything with ``insert(stream, properties) -> id``; streams ``companies``, ``contacts``.
        zendesk: Anything with ``insert(stream, fields) -> id``; streams ``organizations``, ``users``,
            ``tickets``.

    Returns:
        ``{"hubspot": {key: id}, "zendesk": {key: id}}`` covering orgs, people and tickets.
    """
    ids: dict[str, dict[str, str]] = {"hubspot": {}, "zendesk": {}}
    for tool, fake in (("hubspot", hubspot), ("zendesk", zendesk)):
        if fake is not None:
            _seed(data, tool, fake, ids[tool])
    return ids


def seed_one(data: DemoData, tool: str, fake: Any) -> dict[str, int]:
    """Insert one tool's share of the demo world (``hub sandbox seed TOOL``).

    Args:
        data: What :func:`generate` returned.
        tool: ``"hubspot"`` or ``"zendesk"``.
        fake: Anything with ``insert(stream, fields) -> id``.

    Returns:
        How many records went into each stream.

    Raises:
        ValueError: ``tool`` is not one the demo world covers.
    """
    if tool not in _STREAMS:
        raise ValueError(f"no demo data for {tool!r}: expected one of {', '.join(_STREAMS)}")
    return _seed(data, tool, fake, {})


def _seed(data: DemoData, tool: str, fake: Any, ids: dict[str, str]) -> dict[str, int]:
    counts = {}
    for stream, attr, link in _STREAMS[tool]:
        records = getattr(data, attr)
        _insert_all(fake, ids, stream, records, link)
        counts[stream] = len(records)
    return counts


def _insert_all(fake: Any, ids: dict[str, str], stream: str, records: list[dict[str, Any]],
                link: str | None = None) -> None:
    """Insert ``records``, resolving their ``_org``/``_requester`` key to ``link`` via ``ids``."""
    for record in records:
        fields = _public(record)
        target = record.get("_org") or record.get("_requester")
        if link and target in ids:
            fields[link] = ids[target]
        ids[record["_key"]] = str(fake.insert(stream, fields))
