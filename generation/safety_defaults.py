"""The built-in safety rules and responses: seeded into the database, editable by admins.

Patterns run over normalised text (see generation.safety.normalize): lower case, Latin accents
removed ("fumee", "verschluckt"), CJK as written. Each hazard rule has a confidence; a benign
rule suppresses weaker hazard matches of its category; a mask blanks a look-alike out.
"""

# ruff: noqa: E501
# fmt: off
from __future__ import annotations

from generation.safety import BENIGN, HAZARD, MASK, SafetyRule


# --- defaults -----------------------------------------------------------------------------
def _r(name: str, category: str, pattern: str, confidence: float = 0.9, language: str = "",
       kind: str = HAZARD, description: str = "") -> SafetyRule:
    return SafetyRule(
        name=name,
        category=category,
        pattern=pattern,
        kind=kind,
        confidence=confidence,
        language=language,
        description=description,
    )


_DEVICE_EN = (
    r"(?:tv|televisions?|set|screen|monitor|soundbar|speakers?|unit|device|phone|tablet|"
    r"console|it|projector|receiver|subwoofer|woofer)"
)
_POWER_EN = (
    r"(?:power ?cords?|power ?cables?|power ?leads?|cords?|plugs?|wires?|wiring|chargers?|"
    r"charging (?:cable|cord|brick|block)s?|(?:power|ac|wall|charging) (?:adapters?|adaptors?)|"
    r"outlets?|sockets?|"
    r"power ?strips?|surge protectors?|extension(?: cords?| leads?)?|mains (?:cable|lead)s?|"
    r"power (?:supply|brick|board)s?|power ?bricks?)"
)
_PERSON_EN = (
    r"(?:son|daughter|kids?|child|children|baby|toddler|boy|girl|grandson|granddaughter|"
    r"dog|puppy|cat|kitten|pet|someone|somebody|him|her|me|my (?:foot|feet|leg|head|hand)|"
    r"wife|husband|brother|sister|nephew|niece|little one)"
)
_KID_EN = (
    r"(?:son|daughter|kids?|child|children|baby|toddler|boy|girl|grandson|granddaughter|"
    r"dog|puppy|cat|kitten|pet|little one|infant|he|she)"
)

DEFAULT_RULES: list[SafetyRule] = [
    # ---- masks: look-alikes that are not hazards -------------------------------------------
    _r("mask-burn-in", "any", r"\bburn(?:ed|t|ing)?[- ]?in\b(?! (?:the|my|a|an|his|her|our) )",
       kind=MASK, description="screen burn-in"),
    _r("mask-screen-burn", "any",
       r"\b(?:screen|image|logo|pixels?|oled|picture|channel logo|ghost(?:ing)?) ?burn(?:ed|t|ing)?\b",
       kind=MASK, description="screen burn / image retention"),
    _r("mask-burn-disc", "any",
       r"\bburn(?:ing|ed|t)? (?:a |an |the |my |to |onto )?(?:cd|dvd|disc|disk|blu-?ray|iso|"
       r"playlist|mix|data|files?|videos?|photos?)s?\b", kind=MASK,
       description="burn a CD/DVD"),
    _r("mask-burn-calories", "any", r"\bburn(?:s|ing|ed|t)? (?:calories|fat|through (?:data|battery))\b",
       kind=MASK),
    _r("mask-fire-tv", "any",
       r"\b(?:amazon )?fire ?(?:tv|stick|tablet|os|hd|cube|edition|phone)\b|\bkindle fire\b|"
       r"\bfire ?wall\b|\bfire(?:d)? (?:up|off)\b|\bfire ?fox\b|\bfire ?base\b|\bfire ?works? display\b|"
       r"\bfire ?emblem\b|\bceasefire\b|\bfirestick\b|\bfirmware\b|\bfireplace (?:video|app|channel|mode|screensaver)\b",
       kind=MASK, description="Fire TV, firewall, fire up, Firefox, fireplace video"),
    _r("mask-on-fire-idiom", "any",
       r"\b(?:picture|colou?rs?|image|graphics|sound|bass|audio|hdr|contrast|display quality|"
       r"it looks|looks|this show|the game|gameplay|performance)\b[^.?!]{0,20}\bon fire\b"
       r"(?![^.?!]{0,20}\b(?:smoke|smell|flames?|literally|really))",
       kind=MASK, description="'the colours are on fire' (vivid)"),
    _r("mask-smoke-detector", "any",
       r"\bsmoke (?:detectors?|alarms?|sensors?|machines?|effects?|screensaver|theme)\b|"
       r"\bsmoked (?:glass|grey|gray|black|finish)\b",
       kind=MASK, description="smoke detector, smoked-glass finish"),
    _r("mask-shock-proof", "any",
       r"\b(?:anti[- ]?)?shock[- ]?(?:proof|resistant|absorb\w*|sensors?|mounts?|protection|mode)\b|"
       r"\bshocked (?:by|at|that|to see|to find|how)\b|\bshock(?:ing)? (?:price|news|ending|value)\b|"
       r"\bafter ?shock\b|\bshock ?wave\b",
       kind=MASK, description="shock-proof case, 'shocked by the price'"),
    _r("mask-water-resistant", "any",
       r"\bwater[- ]?(?:proof|resistant|resistance|repellent|mark|marks|fall(?:s)? (?:screensaver|"
       r"wallpaper|video))\b|\bip ?6[78]\b|\bmoisture (?:detected|detection|warning|has been detected)\b|"
       r"\bunder ?water (?:photos?|mode|pictures?|camera)\b|\bwaterfall\b|\bwater ?drop (?:notch|display)\b",
       kind=MASK, description="water-resistant phone, moisture-detected warning"),
    _r("mask-hotspot", "any",
       r"\bhot ?spots?\b|\bhot[- ]?(?:keys?|plug\w*|swap\w*|corner|start|fix|list|deals?|new)\b|"
       r"\bhot ?mail\b|\bhot ?word\b|\bhotel mode\b",
       kind=MASK, description="hotspot, hotkey, Hotmail, hotel mode"),
    _r("mask-fell-off-network", "any",
       r"\b(?:fell|falls|falling|fallen|dropped|drops|dropping|drop|kicked|kicks) (?:off|out of|from|"
       r"off of)? ?(?:the |my |our )?(?:wi-?fi|wifi|wireless|network|internet|connection|bluetooth|"
       r"signal|list|menu|account|lan|ethernet|smartthings|app|sync|hdmi|airplay|screen ?mirroring)\b|"
       r"\b(?:volume|sound|signal|speed|price|prices|brightness|picture quality|fps|frame ?rate|"
       r"resolution|bitrate|quality|connection|wi-?fi|wifi|battery (?:level|percentage)|battery)\b"
       r"[^.?!]{0,12}\b(?:fell|falls|dropped|drops|dropping|drop)\b|\bfell (?:asleep|back|behind)\b|"
       r"\bfall(?:s|ing)? (?:back|behind|asleep)\b|\bout of sync\b|\bdrop ?outs?\b|\bfall ?detection\b",
       kind=MASK, description="fell off the Wi-Fi, the volume dropped"),
    _r("mask-spark-app", "any", r"\bspark (?:mail|email|app|ar|video|post|plug|test)\b|\bsparkl\w*\b",
       kind=MASK),
    _r("mask-battery-low", "any",
       r"\b(?:low|weak|dying|dead|flat) batter(?:y|ies)\b|\bbatter(?:y|ies) (?:is |are )?(?:low|"
       r"life|level|saver|saving|usage|drain\w*|percentage|health|dies|died|dead|flat|optimi[sz]\w*|"
       r"status|indicator|icon|warning|cover|compartment|door|replacement|type|size)\b",
       kind=MASK, description="remote battery low, battery drains fast"),
    _r("mask-eats-batteries", "any",
       r"\b(?:eats?|eating|ate|chews? through|drinks?|drains?|draining|kills?|killing) (?:up )?(?:my |"
       r"so much |a lot of |all (?:the |my )?|through )?batter(?:y|ies)(?: life)?\b|\bbattery eater\b",
       kind=MASK, description="'this remote eats batteries'"),
    _r("mask-app-fell-off", "any",
       r"\b(?:app|apps|icon|icons|channel|channels|shortcut|widget|button|menu|tile|input|source|"
       r"picture|image|subtitles?|home screen)s?\b[^.?!]{0,10}\b(?:fell|fallen|dropped|disappeared|"
       r"came off)\b|\bscreen protector\b|\bcord[- ]?cutt\w*|\bcut(?:ting)? the cord\b|"
       r"\bpower (?:cut|outage|failure)s?\b",
       kind=MASK, description="the app fell off the home screen; cutting the cord; power cut"),
    _r("mask-tv-warm-normal", "any",
       r"\b(?:warm|heat) (?:at|on|near) the (?:top|back|edges?|bottom)\b",
       kind=MASK, description="'the TV is warm at the top' (normal heat)"),
    _r("mask-fr-burn-in", "fr",
       r"\bbrulure d'ecran\b|\becran brule\b|\bimage brulee\b|\bremanence\b|\bmarquage d(?:e l)?'ecran\b|"
       r"\btomb\w* en panne\b|\b(?:wifi|wi-fi|connexion|reseau|internet|signal|bluetooth|son|image)\b"
       r"[^.?!]{0,15}\btomb\w*",
       kind=MASK, language="fr"),
    _r("mask-de-burn-in", "de",
       r"\beingebrannt\w*|\beinbrenn\w*|\bbrennt[^.?!]{0,20}\bein\b|\b(?:cd|dvd|disc|blu-?ray)s? "
       r"(?:zu )?brenn\w*|\b(?:wlan|wifi|netzwerk|verbindung|internet|signal|ton|bild|lautstarke)\b"
       r"[^.?!]{0,15}\b(?:fallt|fiel|abgefallen)\b|\bwasserdicht\w*|\bwasserfest\w*",
       kind=MASK, language="de"),
    _r("mask-es-lookalikes", "es",
       r"\bquemad\w* (?:de pantalla|en pantalla)\b|\bpantalla quemada\b|\bimagen (?:quemada|retenida)\b|"
       r"\bquemar (?:un |una )?(?:cd|dvd|disco)\b|\bresistente al agua\b|\bse cae (?:el|la) "
       r"(?:wifi|wi-fi|conexion|red|senal|internet)\b|\bbateria (?:baja|dura poco|se descarga)\b|"
       r"\bdescarga(?:r|s)? (?:de |la |una |el |las |los )?(?:app|aplicacion|actualizacion|archivo|"
       r"software|firmware|video|juego|contenido)\w*",
       kind=MASK, language="es"),
    _r("mask-zh-lookalikes", "zh",
       r"烧屏|烧录|刻录|残影|防水|掉线|断线|电量低|电池电量|没电了|耗电|发热正常|防震|防摔",
       kind=MASK, language="zh"),
    _r("mask-fr-battery", "fr",
       r"\bbatterie (?:se )?decharg\w*|\bbatterie faible\b|\bpiles? faibles?\b|\bresistant\w* a l'eau\b|"
       r"\betanche\b",
       kind=MASK, language="fr"),

    # ---- fire and smoke ---------------------------------------------------------------------
    _r("en-smoke", "fire_smoke", r"\bsmok(?:e|es|ing|ed|ey|y)\b|\bfumes?\b(?! cupboard)", 0.93, "en"),
    _r("en-fire", "fire_smoke",
       r"\b(?:caught|catch(?:es|ing)?|on|set) (?:on )?fire\b|\bflames?\b|\bablaze\b|\bfire (?:in|inside|"
       r"from|coming|started|broke|at|near|behind|out of)\b|\b(?:a|small|little) fire\b|\bburst into\b|"
       r"\bis burning\b|\bwas burning\b|\bstarted burning\b", 0.95, "en"),
    _r("en-steam-vapour", "fire_smoke",
       r"\b(?:steam|vapou?r|haze)\b[^.?!]{0,25}\b(?:coming|came|rising|out of|from)\b", 0.7, "en"),
    _r("es-smoke-fire", "fire_smoke",
       r"\bhum(?:o|ito|illo|areda|eando|ea|eaba)\b|\bechando humo\b|\ben llamas\b|\bllamas (?:salen|saliendo)\b|\bfuego\b|"
       r"\bincendi\w*|\bse (?:prendio|ha prendido) fuego\b|\bardiendo\b|\bse quemo\b", 0.93, "es"),
    _r("de-smoke-fire", "fire_smoke",
       r"\brauch\w*\b(?<!rauchmelder)|\braucht\b|\bqualm\w*|\bfeuer\b|\bflammen?\b|\bin brand\b|"
       r"\bbrand(?:geruch|fleck|stelle|spur)\w*|\bbrennt\b|\bfangt feuer\b|\bfeuer gefangen\b",
       0.93, "de"),
    _r("fr-smoke-fire", "fire_smoke",
       r"\bfumee\b|\bfume\b|\bfumait\b|\bpris feu\b|\bprend feu\b|\ben feu\b|\bflammes?\b|\bincendie\b|"
       r"\bdu feu\b|\bbrule\b(?! la main)|\bbrulait\b", 0.93, "fr"),
    _r("it-smoke-fire", "fire_smoke",
       r"\bfumo\b|\bfuma\b|\bfumava\b|\bfiamm[ae]\b|\bpreso fuoco\b|\bprende fuoco\b|\bincendio\b|"
       r"\bva a fuoco\b|\bbrucia\b", 0.93, "it"),
    _r("pt-smoke-fire", "fire_smoke",
       r"\bfumaca\b|\bsaindo fumo\b|\bpegou fogo\b|\bpegando fogo\b|\bem chamas\b|\bchamas\b|"
       r"\bincendio\b|\bfogo\b", 0.93, "pt"),
    _r("zh-smoke-fire", "fire_smoke",
       r"冒烟|冒出.{0,3}烟|有烟|烟雾|起烟|着火|起火|火苗|失火|烧起来|火焰|燃烧", 0.95, "zh"),
    _r("ja-smoke-fire", "fire_smoke", r"煙|けむり|発火|燃え|火が出|炎", 0.93, "ja"),
    _r("ko-smoke-fire", "fire_smoke", r"연기|불이 ?(?:났|붙|나)|불길|화재", 0.93, "ko"),

    # ---- burning or electrical smell ---------------------------------------------------------
    _r("en-burning-smell", "burning_smell",
       r"\b(?:burn(?:ing|t|ed)|scorch\w*|smok(?:e|y)|electrical|electric|melt(?:ing|ed)|charred|"
       r"fishy|ozone|singed?)[- ](?:smell|odou?r|stench|scent|stink)\w*|"
       r"\b(?:smell|smells|smelled|smelt|smelling|stinks?|stinking|reeks?)\b[^.?!]{0,25}\b(?:burn\w*|"
       r"smoke|smoky|scorch\w*|melt\w*|electric\w*|fish|fishy|ozone|singed?|toast|charred)\b|"
       r"\bsmells? (?:hot|toasty)\b", 0.95, "en"),
    _r("en-plastic-smell", "burning_smell",
       r"\b(?:plastic|chemical|strange|weird|funny|odd|bad|strong|acrid|rubber|hot)[- ](?:smell|odou?r|"
       r"stench|scent)\w*|\bsmells?\b[^.?!]{0,15}\b(?:plastic|chemicals?|rubber|funny|weird|strange|"
       r"odd)\b|\b(?:smell|odou?r)\w* (?:coming )?(?:from|out of) (?:the )?(?:back|vents?|inside|"
       r"tv|set|rear)\b", 0.6, "en"),
    _r("en-crackle-with-smell", "burning_smell",
       r"\A(?=.*\b(?:crackl\w*|popping|pops|sizzl\w*|hiss\w*|buzz\w*|fizz\w*)\b)(?=.*\b(?:smell\w*|odou?r"
       r"|stinks?|hot)\b)", 0.88, "en"),
    _r("es-burning-smell", "burning_smell",
       r"\bolor(?:cillo)? (?:a|de) (?:quemado|humo|chamusquina|electrico|cable|plastico quemado)\b|"
       r"\bhuele (?:a )?(?:quemado|humo|chamusquina|electrico|cable quemado)\b|\bchamuscad\w*", 0.95, "es"),
    _r("es-plastic-smell", "burning_smell",
       r"\bolor(?:cillo)? (?:a |de )?(?:plastico|raro|extrano|fuerte|quimico)\b|\bhuele (?:a )?"
       r"(?:plastico|raro|extrano)\b|\bchisporrote\w*", 0.6, "es"),
    _r("de-burning-smell", "burning_smell",
       r"\bbrandgeruch\b|\bschmorgeruch\b|\briecht\b[^.?!]{0,20}\b(?:verbrannt\w*|verschmort\w*|"
       r"angebrannt\w*|rauch|elektrisch|strom|kokel\w*|brand)\b|\bverschmort\w*|\bkokel\w*|"
       r"\bgeruch nach (?:verbrannt\w*|rauch|strom)\b|\bgestank\b", 0.95, "de"),
    _r("de-plastic-smell", "burning_smell",
       r"\briecht\b[^.?!]{0,20}\b(?:plastik|chemisch\w*|komisch|seltsam|merkwurdig)\b|"
       r"\b(?:plastik|chemie|komischer|seltsamer|merkwurdiger)geruch\b|\bgeruch nach plastik\b|"
       r"\bknister\w*", 0.6, "de"),
    _r("fr-burning-smell", "burning_smell",
       r"\bodeur (?:de |du )?(?:brule|brulure|fumee|roussi|crame|plastique brule|cable brule|"
       r"electrique|chaud)\b|\bsent (?:le |la )?(?:brule|crame|roussi|fumee|chaud)\b", 0.95, "fr"),
    _r("fr-plastic-smell", "burning_smell",
       r"\bodeur (?:de |du )?(?:plastique|bizarre|etrange|forte|chimique)\b|\bsent le plastique\b|"
       r"\bcrepit\w*|\bgresill\w*", 0.6, "fr"),
    _r("it-burning-smell", "burning_smell",
       r"\b(?:odore|puzza|puzzo) (?:di )?(?:bruciato|fumo|plastica bruciata|elettrico|strinato)\b|"
       r"\bsa di bruciato\b|\bsento (?:odore di )?bruciato\b", 0.95, "it"),
    _r("pt-burning-smell", "burning_smell",
       r"\bcheiro (?:de |a )?(?:queimado|fumaca|plastico queimado|eletrico|fio queimado)\b|"
       r"\bcheirando a queimado\b|\bcheira a queimado\b", 0.95, "pt"),
    _r("zh-burning-smell", "burning_smell",
       r"烧焦|焦味|糊味|烧糊|焦糊|烧焦的味|电线烧|胶皮味|烧塑料", 0.95, "zh"),
    _r("zh-plastic-smell", "burning_smell", r"塑料味|怪味|异味|噼啪|滋滋", 0.6, "zh"),
    _r("ja-burning-smell", "burning_smell", r"焦げ(?:臭|くさ|た臭い|たにおい)|焦げ臭|焼ける(?:臭|にお)", 0.95, "ja"),
    _r("ko-burning-smell", "burning_smell", r"타는 ?냄새|탄 ?냄새|그을린 ?냄새|전기 ?냄새", 0.95, "ko"),

    # ---- sparks, arcing, bangs ---------------------------------------------------------------
    _r("en-sparks", "sparks",
       r"\bspark(?:s|ing|ed|ed out|y)?\b|\barc(?:ing|ed)\b|\belectrical arc\b|\bblue flash\b|"
       r"\bflash(?:ed)? (?:from|inside|behind|at) (?:the )?(?:outlet|socket|plug|back|power)\b", 0.92, "en"),
    _r("en-bang-then-dead", "sparks",
       r"\b(?:loud |big )?(?:pop(?![- ]?up)|bang|boom|explosion)\b[^.?!]{0,60}\b(?:turned off|went (?:off|dead|"
       r"black|out)|died|shut (?:off|down)|won'?t turn on|no power|smell\w*|smoke)\b", 0.8, "en"),
    _r("en-exploded", "sparks", r"\bexplod(?:ed|ing|es)\b", 0.85, "en"),
    _r("es-sparks", "sparks", r"\bchispas?\b|\bchispazos?\b|\bchispea\w*|\bexplot\w*|\bestall\w*", 0.9, "es"),
    _r("de-sparks", "sparks", r"\bfunken\w*|\blichtbogen\b|\bexplodiert\w*|\bknall\b|\bgeknallt\b", 0.9, "de"),
    _r("fr-sparks", "sparks", r"\betincelles?\b|\barc electrique\b|\bexplos\w*|\ba explose\b", 0.9, "fr"),
    _r("it-pt-sparks", "sparks", r"\bscintill\w*|\bfaiscas?\b|\bfaiscando\b|\besplo\w*|\bexplodiu\b", 0.9),
    _r("zh-sparks", "sparks", r"火花|冒火|打火|爆炸|砰的一声", 0.92, "zh"),
    _r("ja-ko-sparks", "sparks", r"火花|スパーク|破裂|爆発|불꽃|스파크|폭발|펑 ?소리", 0.92),

    # ---- electric shock / tingling ------------------------------------------------------------
    _r("en-shock", "electric_shock",
       r"\belectr(?:ic|ical|ically)? ?shock\w*|\b(?:got|get|getting|gets|gave|give|gives|giving|"
       r"received?|felt|feel|had) (?:me |him |her |us |them )?(?:a |an )?(?:small |little |slight |mild |"
       r"nasty |big |bad |real )?(?:electric(?:al)? )?(?:shock|jolt|zap)\b|\bshock(?:s|ed)? (?:me|him|her|"
       r"us|my \w+)\b|\belectrocut\w*|\bzap(?:ped|s)? (?:me|him|her|my)\b|\belectrified\b|"
       r"\b(?:live|electrified|charged) (?:metal|case|casing|frame|chassis|back)\b", 0.95, "en"),
    _r("en-tingle", "electric_shock",
       r"\btingl\w*|\b(?:buzz|vibrat)\w* (?:when|if) (?:i |you )?touch\b|\b(?:current|electricity|"
       r"voltage) (?:in|on|through|from) (?:the )?(?:case|casing|metal|frame|back|screen|chassis|stand|"
       r"body)\b|\bfeel (?:the )?electricity\b", 0.88, "en"),
    _r("es-shock", "electric_shock",
       r"\bdescargas? electricas?\b|\b(?:me|le|nos) (?:dio|da|ha dado|dan) (?:una |la |un )?(?:descarga|"
       r"corriente|calambre|toque|chispazo)\b|\b(?:recibi|senti|siento|sentimos) (?:una )?(?:descarga|"
       r"corriente|calambre)\b|\bcalambres?\b|\belectrocut\w*|\bhormigue\w*|\bpasa corriente\b|"
       r"\bda corriente\b", 0.93, "es"),
    _r("de-shock", "electric_shock",
       r"\bstromschlag\w*|\belektrischen? schlag\b|\bschlag (?:bekommen|gekriegt|abbekommen)\b|"
       r"\beine?n? gewischt\b|\bkribbel\w*|\belektrisiert\b|\bunter strom\b|\bstromstoss\b",
       0.93, "de"),
    _r("fr-shock", "electric_shock",
       r"\bdecharges? electriques?\b|\b(?:pris|prend|recu|ressenti|senti|sens|eu) (?:une |des |un )?"
       r"(?:decharges?|coup de jus|chataigne|le jus)\b|\bcoup de jus\b|\belectrocut\w*|\belectrise\w*|"
       r"\bpicot\w*|\bfourmill\w*", 0.93, "fr"),
    _r("it-pt-shock", "electric_shock",
       r"\bscoss[ae](?: elettrica)?\b|\bpreso la scossa\b|\bfolgorat\w*|\bchoques? eletricos?\b|"
       r"\b(?:levei|leva|tomei|toma|deu) (?:um )?choque\b|\beletrocut\w*|\bformigamento\b", 0.93),
    _r("zh-shock", "electric_shock", r"(?:碰|摸|触|接触).{0,10}(?:发麻|麻麻|酥麻|刺痛)|触电|(?<!充)电到(?:我|了|手|他|她)|电了(?:我|一下|他|她)|漏电|麻手|手麻|被电|电击", 0.95, "zh"),
    _r("ja-ko-shock", "electric_shock", r"感電|ビリビリ|ビリッと|しびれ|감전|찌릿|전기가 ?(?:통|오)", 0.93),

    # ---- damaged cord / plug / socket ---------------------------------------------------------
    _r("en-damaged-cord", "damaged_cord",
       rf"\b{_POWER_EN}\b[^.?!]{{0,40}}\b(?:melt\w*|frayed|fraying|exposed|chewed|gnawed|scorch\w*|"
       rf"burn(?:t|ed|ing)|charred|blackened|turned black|gone black|scorch marks|brown marks|"
       rf"discolou?red|damaged|cut|cracked|split|broken|bent|smok\w*|sizzl\w*|loose and spark\w*)\b|"
       rf"\b(?:melt(?:ed|ing)?|frayed|exposed|chewed|gnawed|scorched|burnt|burned|charred|blackened|"
       rf"damaged|cracked|split|broken)\b[^.?!]{{0,25}}\b{_POWER_EN}\b|\bexposed (?:wires?|copper)\b|"
       r"\bbare wires?\b|\bwires? (?:sticking|poking|showing|visible)\b|"
       r"\b(?:insulation|sheath\w*|jacket|rubber|coating)\b[^.?!]{0,30}\b(?:crack\w*|split\w*|melt\w*|"
       r"torn|damaged|broken|peel\w*|worn)\b|\b(?:see|seeing|showing|exposed|bare|visible)\b[^.?!]{0,15}"
       r"\bcopper\b|\bcopper\b[^.?!]{0,15}\b(?:showing|exposed|visible|sticking out)\b", 0.88, "en"),
    _r("en-hot-plug", "damaged_cord",
       r"\b(?:plugs?|outlets?|sockets?|power ?strips?|extension(?: cords?| leads?)?|power ?cords?|"
       r"wall plugs?)\b[^.?!]{0,25}\b(?:hot|warm|buzz\w*|crackl\w*)\b", 0.8, "en"),
    _r("es-damaged-cord", "damaged_cord",
       r"\b(?:cable|cables|enchufe|enchufes|cargador|tomacorriente|toma de corriente|clavija|"
       r"alargador|regleta|zapatilla)\b[^.?!]{0,40}\b(?:derretid\w*|quemad\w*|pelad\w*|danad\w*|"
       r"rot[oa]s?|chamuscad\w*|negr\w*|mordid\w*|caliente|fundid\w*)\b|\bcables? pelados?\b", 0.88, "es"),
    _r("de-damaged-cord", "damaged_cord",
       r"\b(?:netz)?(?:kabel|stecker|steckdose|netzteil|ladegerat|ladekabel|mehrfachsteckdose|"
       r"verlangerungskabel|steckerleiste)\w*\b[^.?!]{0,40}\b(?:geschmolzen|geschmort|verschmort|"
       r"angeschmort|verbrannt|beschadigt|kaputt|angefressen|angeknabbert|durchgebissen|blank|schwarz|"
       r"bruchig|heiss|angekokelt)\b|\b(?:geschmolzen\w*|verschmort\w*|angeschmort\w*|angeknabbert\w*|"
       r"durchgebissen\w*|beschadigt\w*)\b[^.?!]{0,25}\b(?:netz)?(?:kabel|stecker|steckdose)\w*", 0.88, "de"),
    _r("fr-damaged-cord", "damaged_cord",
       r"\b(?:cable|cordon|prise(?! (?:hdmi|usb|casque|jack|optique|antenne|d'antenne|ethernet|reseau))|"
       r"fiche|chargeur|adaptateur|rallonge|multiprise|fil)s?\b[^.?!]{0,40}\b(?:fondu\w*|brule\w*|"
       r"noirci\w*|denude\w*|abime\w*|endommage\w*|ronge\w*|mordill\w*|dechire\w*|carbonise\w*|"
       r"chaud\w*)\b|\bfils? denudes?\b", 0.88, "fr"),
    _r("it-pt-damaged-cord", "damaged_cord",
       r"\b(?:cavo|spina|presa|caricatore|fio|cabo|tomada|plugue|carregador)\b[^.?!]{0,40}\b(?:fus[oa]|"
       r"bruciat[oa]|rovinat[oa]|spellat[oa]|derretid[oa]|queimad[oa]|desencapad[oa]|danificad[oa]|"
       r"roid[oa]|mordid[oa])\b", 0.88),
    _r("zh-damaged-cord", "damaged_cord",
       r"(?:电线|电源线|插头|插座|充电器|充电线|适配器|排插|插线板).{0,10}(?:融化|熔化|烧|焦|破损|破皮|咬|"
       r"发黑|变黑|露出|裂|发烫)|(?:融化|熔化|烧焦|咬破|咬坏|破皮).{0,6}(?:电线|电源线|插头|插座)|铜线露", 0.9, "zh"),
    _r("ja-ko-damaged-cord", "damaged_cord",
       r"(?:コード|プラグ|コンセント|ケーブル|充電器).{0,10}(?:溶け|焦げ|破れ|かじ|むき出し)|"
       r"(?:전선|코드|플러그|콘센트|충전기).{0,10}(?:녹|탔|그을|벗겨|씹)", 0.9),

    # ---- swallowed battery ---------------------------------------------------------------------
    _r("en-swallowed-battery", "swallowed_battery",
       r"\A(?=.*\b(?:batter(?:y|ies)|button cells?|coin cells?|cr ?20\d\d|lr ?\d\d|ag\d+|magnets?)\b)"
       r"(?=.*\b(?:swallow\w*|mouth|mouths|ate|eaten|eating|eats|chew\w*|ingest\w*|chok\w*|gulp\w*|"
       r"licked|licking|sucking|bitten|bit (?:into|on|the)|in (?:his|her|my|its|their|the) (?:nose|ear))\b)", 0.95, "en"),
    _r("en-missing-battery-child", "swallowed_battery",
       r"\A(?=.*\b(?:coin|button|small|watch|remote'?s?) ?(?:cells?|batter(?:y|ies))\b)(?=.*\b(?:missing|"
       r"can'?t find|cannot find|lost|gone|disappeared|coughing|vomiting|throwing up|drooling|gagging)\b)"
       r"(?=.*\b(?:kid|kids|child|toddler|baby|son|daughter|year[- ]old|dog|puppy|cat|grandchild)\b)",
       0.9, "en", description="a button battery missing while a child played with it"),
    _r("es-swallowed-battery", "swallowed_battery",
       r"\A(?=.*\b(?:pilas?|baterias?|pila de boton|boton)\b)(?=.*\b(?:trago|tragado|tragar|tragarse|"
       r"trag\w*|boca|comio|comido|mordi\w*|ingiri\w*|ingerido|atragant\w*|chup\w*)\b)", 0.95, "es"),
    _r("de-swallowed-battery", "swallowed_battery",
       r"\A(?=.*(?:batterie|knopfzelle|akku|knopfbatterie))(?=.*(?:verschluck\w*|geschluckt|schluck\w*|"
       r"in den mund|im mund|gegessen|verschlungen|angekaut|zerbissen|in die nase|lutsch\w*))", 0.95, "de"),
    _r("fr-swallowed-battery", "swallowed_battery",
       r"\A(?=.*\b(?:piles?|batteries?|pile bouton)\b)(?=.*\b(?:avale\w*|bouche|mange\w*|mordu\w*|"
       r"ingere\w*|ingurgit\w*|mordill\w*|suce\w*|etouff\w*)\b)", 0.95, "fr"),
    _r("it-pt-swallowed-battery", "swallowed_battery",
       r"\A(?=.*\b(?:pil[ae]|batteri[ae]|bateria|pilhas?|baterias?)\b)(?=.*\b(?:ingoiat\w*|inghiott\w*|"
       r"ingerit\w*|bocca|engoli\w*|boca|mastig\w*|mordeu|ingeriu)\b)", 0.95),
    _r("zh-swallowed-battery", "swallowed_battery",
       r"\A(?=.*(?:电池|纽扣电池|磁铁))(?=.*(?:吞|咽|放进嘴|嘴里|吃了|吃下|咬|含在|塞进))", 0.95, "zh"),
    _r("ja-ko-swallowed-battery", "swallowed_battery",
       r"\A(?=.*(?:電池|バッテリー|배터리|건전지|전지))(?=.*(?:飲み込|飲んで|口に|口の中|삼켰|삼킨|입에|먹었))", 0.95),

    # ---- fallen / tipped-over TV ---------------------------------------------------------------
    _r("en-tip-over", "tip_over",
       rf"\bit (?:fell|tipped|toppled)\b|"
       rf"\b(?:tv|televisions?|the set|screen|monitor|mount|bracket|stand)\b[^.?!]{{0,30}}\b(?:fell|"
       rf"fallen|falls|falling|tipped|tip(?:s|ping)? over|toppled|toppling|topples|came crashing|"
       rf"came (?:off|down)|came away from|pulled (?:down|over)|knocked (?:over|down)|tip(?:ped)? over|"
       rf"gave way|ripped out|pulling out of the wall|collapsed|came loose|landed on)\b|"
       rf"\b(?:fell|fallen|tipped|toppled|crashed|landed|dropped|came down) (?:on|onto|over|on top of)"
       rf" (?:my |our |his |her |the )?(?:little )?{_PERSON_EN}\b|"
       rf"\b(?:pulled|knocked|tipped|climbed on|climbing)\b[^.?!]{{0,30}}\b(?:tv|television|the set|"
       rf"dresser|stand)\b[^.?!]{{0,30}}\b(?:over|down|on (?:him|her|them|top))\b", 0.92, "en"),
    _r("es-tip-over", "tip_over",
       r"\b(?:televisor|tele|tv|pantalla|soporte)\b[^.?!]{0,30}\b(?:se cayo|cayo|se vino abajo|volco|"
       r"se volco|se desplomo|se solto|se cayeron)\b|\bse (?:le |nos |me )?(?:cayo|vino) (?:encima|la "
       r"tele|el televisor|la tv|la pantalla)\b|\bcayo (?:encima|sobre) (?:de )?(?:mi|su|nuestro) "
       r"(?:hijo|hija|nino|nina|bebe|perro|gato|pie)\b", 0.92, "es"),
    _r("de-tip-over", "tip_over",
       r"\b(?:fernseher|tv|gerat|bildschirm|wandhalterung|halterung)\b[^.?!]{0,30}\b(?:umgefallen|"
       r"umgekippt|runtergefallen|heruntergefallen|gesturzt|abgesturzt|von der wand|aus der wand|"
       r"gefallen|gekippt)\b|\b(?:gefallen|gesturzt|gekippt)\b[^.?!]{0,15}\bauf (?:mein\w*|den|die|das|"
       r"unser\w*|sein\w*|ihr\w*) (?:sohn|tochter|kind|kleine\w*|baby|hund|katze|fuss|bein|kopf)\b|"
       r"\bauf (?:mein\w*|den|die|das|unser\w*) (?:sohn|tochter|kind|kleine\w*|baby|hund|katze) "
       r"(?:gefallen|gesturzt|gekippt)\b", 0.92, "de"),
    _r("fr-tip-over", "tip_over",
       r"\b(?:tele|televiseur|tv|ecran|support mural|support)\b[^.?!]{0,30}\b(?:tombe\w*|renverse\w*|"
       r"bascule\w*|chute\w*|decroche\w*|effondre\w*)\b|\btombe\w* sur (?:mon|ma|notre|son|sa|le|la) "
       r"(?:fils|fille|enfant|bebe|chien|chat|pied|jambe|tete)\b", 0.92, "fr"),
    _r("it-pt-tip-over", "tip_over",
       r"\b(?:televisore|tv|tele|televisao|televisor)\b[^.?!]{0,30}\b(?:cadut[oa]|caduta|e caduto|"
       r"ribaltat[oa]|caiu|tombou|despencou)\b|\b(?:caduto|caiu) (?:addosso|em cima|sopra|sobre)\b", 0.92),
    _r("zh-tip-over", "tip_over",
       r"(?:电视|电视机|显示器|屏幕|支架|挂架).{0,8}(?:倒了|掉下来|掉了下来|砸|摔下|翻倒|倾倒|从墙上掉|塌)|"
       r"砸(?:到|在|伤)|压(?:到|在|伤)(?:了)?(?:我|孩子|儿子|女儿|宝宝|狗|猫)", 0.92, "zh"),
    _r("ja-ko-tip-over", "tip_over",
       r"(?:テレビ|画面).{0,8}(?:倒れ|落ち|転倒)|(?:TV|티비|텔레비전|tv).{0,8}(?:넘어졌|떨어졌|쓰러졌)|"
       r"(?:텔레비전|티비|TV|tv)(?:가|이)? ?(?:아이|아들|딸|강아지) ?위로", 0.92),

    # ---- liquid inside --------------------------------------------------------------------------
    _r("en-liquid-inside", "liquid_inside",
       r"\b(?:water|liquid|coffee|tea|juice|soda|coke|drink|wine|beer|milk|rain|rainwater|pee|urine|"
       r"peed|fish tank|aquarium|vase|flood\w*|leak\w*|condensation|moisture)\b[^.?!]{0,40}\b(?:inside|"
       r"into|in the (?:back|vents?|tv|television|set|speaker|soundbar|unit|screen|panel|outlet|socket|"
       r"power)|got in|gotten in|went in|seeped|dripp\w* (?:into|onto|in)|leak\w* (?:into|onto)|"
       r"all over the (?:tv|back)|(?:on|onto|over) the (?:back of the|soundbar|power|outlet|plug|"
       r"socket|power strip))\b|"
       r"\b(?:spill\w*|spilt|poured|splashed|knocked)\b[^.?!]{0,30}\b(?:on|onto|over|into|in) "
       r"(?:the |my |our )?(?:back of the )?(?:tv|television|set|soundbar|speaker|power strip|outlet|"
       r"plug|socket|extension|console|screen)\b|\b(?:tv|television|soundbar|outlet|socket|power strip)"
       r"\b[^.?!]{0,20}\b(?:got|is|was|are) (?:wet|soaked|flooded|drenched)\b", 0.88, "en"),
    _r("es-liquid-inside", "liquid_inside",
       r"\b(?:agua|liquido|cafe|refresco|jugo|zumo|vino|cerveza|leche|lluvia)\b[^.?!]{0,40}\b(?:dentro|"
       r"adentro|se metio|entro|se colo|derram\w*)\b|\bderram\w*\b[^.?!]{0,30}\b(?:tele|televisor|tv|"
       r"barra de sonido|enchufe|regleta)\b|\bse (?:mojo|empapo|inundo)\b", 0.88, "es"),
    _r("de-liquid-inside", "liquid_inside",
       r"\b(?:wasser|flussigkeit|kaffee|tee|saft|cola|wein|bier|milch|regen)\b[^.?!]{0,40}\b(?:hinein\w*|"
       r"rein(?:gelaufen|gekommen|getropft)|eingedrungen|ins gerat|in den fernseher|in die soundbar|"
       r"innen|drin|verschuttet|gelaufen|getropft|gekippt|geschuttet|gegossen)\b|\b(?:verschuttet|umgekippt|ausgekippt)\b[^.?!]{0,30}"
       r"\b(?:fernseher|tv|soundbar|steckdose)\b|\bnass geworden\b", 0.88, "de"),
    _r("fr-liquid-inside", "liquid_inside",
       r"\b(?:eau|liquide|cafe|jus|soda|vin|biere|lait|pluie)\b[^.?!]{0,40}\b(?:dedans|a l'interieur|"
       r"entre\w* dans|coule\w* dans|infiltre\w*|renverse\w*|rentre\w*)\b|\brenverse\w*\b[^.?!]{0,30}"
       r"\b(?:tele|televiseur|tv|barre de son|prise|multiprise)\b|\b(?:tele|televiseur|tv)\b[^.?!]{0,20}"
       r"\b(?:mouille\w*|trempe\w*|inonde\w*)\b", 0.88, "fr"),
    _r("it-pt-liquid-inside", "liquid_inside",
       r"\b(?:acqua|liquido|caffe|agua|liquido|cafe|suco)\b[^.?!]{0,40}\b(?:dentro|entrat[oa]|entrou|"
       r"rovesciat[oa]|derramad[oa]|derramei|cai[ou] (?:na|no|dentro))\b|\b(?:derramei|rovesciato)\b", 0.88),
    _r("zh-liquid-inside", "liquid_inside",
       r"进水|(?:水|液体|咖啡|茶|饮料|果汁|啤酒|牛奶|雨水)(?:洒|泼|溅|流|灌|渗|漏)(?:了)?(?:进|到|在|入)|"
       r"(?:洒|泼|溅|打翻)了?.{0,6}(?:水|咖啡|饮料|茶|果汁).{0,6}(?:电视|音响|插座|里面|上)|受潮冒", 0.88, "zh"),
    _r("ja-ko-liquid-inside", "liquid_inside",
       r"(?:水|液体|コーヒー|ジュース|お茶).{0,6}(?:入っ|こぼ|かか)|(?:물|커피|음료|주스).{0,6}(?:들어갔|쏟|흘렸|"
       r"스며)|침수", 0.88),

    # ---- dangerous heat -------------------------------------------------------------------------
    _r("en-dangerous-heat", "overheating",
       r"\btoo hot to (?:touch|hold)\b|\bburning hot\b|\bscalding\b|\bred[- ]hot\b|\bhot enough to "
       r"(?:burn|hurt|melt)\b|\b(?:burn(?:ed|t)|blister\w*) (?:my|his|her|their) (?:hand|hands|finger|"
       r"fingers|skin|palm|arm|leg)\b|\bso hot (?:that )?(?:it|i) (?:hurts?|burn\w*|can'?t)\b|\bcan'?t "
       r"(?:touch|hold) it\b[^.?!]{0,20}\bhot\b|\bmelt(?:ed|ing)? (?:the )?(?:plastic|case|casing|"
       r"stand|wall|shelf|cabinet|back)\b|\b(?:plastic|case|casing|back|housing)\b[^.?!]{0,20}\b"
       r"(?:melt\w*|warped from (?:the )?heat|deform\w*)\b", 0.9, "en"),
    _r("es-dangerous-heat", "overheating",
       r"\bdemasiado caliente para tocar\b|\bquema al tocar\b|\bme queme (?:la mano|los dedos)\b|\bno se "
       r"puede tocar de (?:lo )?caliente\b|\bderritiendo\b|\bderritio\b", 0.9, "es"),
    _r("de-dangerous-heat", "overheating",
       r"\bzu heiss zum anfassen\b|\bgluhend heiss\b|\b(?:hand|finger) verbrannt\b|\bverbrannt an\b|"
       r"\bso heiss,? dass\b|\bschmilzt\b|\bgeschmolzen\b", 0.9, "de"),
    _r("fr-dangerous-heat", "overheating",
       r"\btrop chaud pour (?:le )?toucher\b|\bbrulant\w*|\b(?:me suis )?brule (?:la main|les doigts)\b|"
       r"\bimpossible (?:a|de) (?:le |la )?toucher\b|\ba fondu\b", 0.9, "fr"),
    _r("zh-dangerous-heat", "overheating",
       r"烫得(?:不能|无法|没法|不敢)?(?:碰|摸)|烫手|烫伤|烫到|融化了|熔化了|烫得冒", 0.9, "zh"),
    _r("ja-ko-dangerous-heat", "overheating",
       r"触れないほど熱|やけど|火傷|溶けて|만질 ?수 ?없을 ?정도로 ?뜨|녹았|녹아내", 0.9),

    # ---- swollen / leaking / exploding battery ---------------------------------------------------
    _r("en-battery-damage", "battery_damage",
       r"\b(?:batter(?:y|ies)|cells?|power ?bank)\b[^.?!]{0,30}\b(?:swell\w*|swollen|bulg\w*|puff\w*|"
       r"expand\w*|bloat\w*|leak\w*|corrod\w*|hiss\w*|venting|pillow\w*|deform\w*)\b|\b(?:swollen|"
       r"bulging|puffy|expanded|bloated|leaking|leaky|spicy)\b[^.?!]{0,15}\bbatter(?:y|ies)\b|"
       r"\b(?:back (?:cover|glass|panel)|screen)\b[^.?!]{0,30}\b(?:lifting|bulging|pushed out|"
       r"popping off|separating|coming apart)\b", 0.9, "en"),
    _r("es-battery-damage", "battery_damage",
       r"\b(?:bateria|pila)s?\b[^.?!]{0,20}\b(?:hinchad\w*|inflad\w*|abombad\w*|sulfatad\w*|"
       r"derramad\w*|se sulfato|pierde liquido)\b|\b(?:hinchad|inflad|abombad)\w*\b[^.?!]{0,15}"
       r"\bbateria", 0.9, "es"),
    _r("de-battery-damage", "battery_damage",
       r"\b(?:akku|batterie)\w*\b[^.?!]{0,25}\b(?:aufgeblaht|aufgequollen|geblaht|dick geworden|"
       r"ausgelaufen|ausgelaufene|korrodiert|wolbt)\b|\b(?:aufgeblaht\w*|aufgequollen\w*|"
       r"ausgelaufen\w*)\b[^.?!]{0,15}\b(?:akku|batterie)", 0.9, "de"),
    _r("fr-battery-damage", "battery_damage",
       r"\b(?:batterie|pile)s?\b[^.?!]{0,20}\b(?:gonfle\w*|enfle\w*|bombe\w*|coule\w*|fuit|fuient|"
       r"oxyde\w*)\b|\b(?:gonfle|bombe)\w*\b[^.?!]{0,15}\bbatterie", 0.9, "fr"),
    _r("it-pt-battery-damage", "battery_damage",
       r"\bbatteri[ae] (?:gonfi[ae]|gonfiat[ae]|rigonfi[ae])\b|\bbateria (?:inchad[ao]|estufad[ao]|"
       r"vazando)\b|\bpilhas? vazando\b", 0.9),
    _r("zh-battery-damage", "battery_damage", r"电池.{0,4}(?:鼓包|膨胀|鼓起|漏液|爆)|鼓包|漏液", 0.9, "zh"),
    _r("ja-ko-battery-damage", "battery_damage",
       r"(?:電池|バッテリー).{0,6}(?:膨張|膨らん|液漏れ)|(?:배터리|건전지).{0,6}(?:부풀|부었|팽창|새)", 0.9),

    # ---- gas ------------------------------------------------------------------------------------
    _r("en-gas", "gas_leak",
       r"\bgas (?:smell|leak\w*|odou?r)\b|\bsmell\w* (?:of |like )?(?:natural )?gas\b|\bcarbon monoxide\b|"
       r"\bgas\b[^.?!]{0,20}\bleak\w*", 0.93, "en"),
    _r("es-fr-de-gas", "gas_leak",
       r"\bolor a gas\b|\bfuga de gas\b|\bhuele a gas\b|\bodeur de gaz\b|\bfuite de gaz\b|\bsent le gaz\b|"
       r"\bgasgeruch\b|\briecht nach gas\b|\bgasleck\b|\bodore di gas\b|\bcheiro de gas\b|\bvazamento de gas\b",
       0.93),
    _r("cjk-gas", "gas_leak", r"煤气味|燃气味|煤气泄漏|燃气泄漏|天然气泄漏|ガス(?:臭|漏れ)|가스 ?(?:냄새|누출|샌)", 0.93),

    # ---- benign context: makes the weak hazards of a category ordinary ---------------------------
    _r("benign-new-tv-smell", "burning_smell",
       r"\b(?:new|brand[- ]new|first (?:use|time|day|days|week|few)|just (?:bought|unboxed|installed|got|"
       r"set up)|out of the box|unbox\w*|faint|slight|mild|little bit of a|a bit of a)\b|"
       r"\bneu(?:e|er|es|en|em)?\b|\berst\w* (?:mal|tag|tage|woche)\b|\bnuev[oa]\b|\brecien\b|\bnouve(?:au|l|lle)\b|"
       r"\bleger\w*\b|\bnuov[oa]\b|\bnov[oa]\b|新买|新电视|刚买|刚拆|新的|新しい|새 ?(?:티비|tv|텔레비전)",
       0.7, kind=BENIGN, description="new TV's faint first-use smell"),
    _r("benign-plastic-smell", "burning_smell",
       r"\bplastic(?:ky|y)?[- ](?:smell|odou?r|scent)\b|\bsmel\w*\b[^.?!]{0,12}\bplastic\b|"
       r"\bplastik\w*|\bplastico\b|\bplastique\b|\bplastica\b|塑料味|塑胶味|プラスチック",
       0.7, kind=BENIGN,
       description="a plastic smell alone: the manual says it is normal and dissipates"),
    _r("benign-audio-crackle", "burning_smell",
       r"\b(?:audio|sound|speakers?|headphones?|earbuds?|music|bluetooth|hdmi arc|soundbar audio|"
       r"volume|dialogue|voices?|mic|microphone)\b[^.?!]{0,30}\b(?:crackl\w*|popping|pops|buzz\w*|hiss\w*)\b|"
       r"\b(?:crackl\w*|popping|pops|buzz\w*|hiss\w*)\b[^.?!]{0,30}\b(?:audio|sound|speakers?|headphones?|"
       r"music|bluetooth|volume|dialogue|voices?)\b",
       0.7, kind=BENIGN, description="audio crackle without smell"),
]

DEFAULT_RESPONSES: dict[str, str] = {
    "en": (
        "This sounds like a safety issue, so we won't troubleshoot it here.\n\n"
        "- Stop using the device now.\n"
        "- If it is safe to do so, unplug it from the wall outlet or switch it off at the fuse "
        "box. Do not touch it if it is wet, sparking or smoking.\n"
        "- Keep everyone, including children and pets, away from smoke or fire. If there is a "
        "fire, someone is hurt, or a child may have swallowed a battery, call your local "
        "emergency number now.\n"
        "- A member of our support team has been alerted and will contact you as a priority. "
        "Do not use the device again until it has been checked."
    ),
    "es": (
        "Esto parece un problema de seguridad, así que no lo resolveremos aquí.\n\n"
        "- Deje de usar el aparato ahora mismo.\n"
        "- Si es seguro hacerlo, desenchúfelo de la toma de corriente o corte la electricidad en "
        "el cuadro eléctrico. No lo toque si está mojado, echa chispas o humo.\n"
        "- Mantenga a todos, también a niños y mascotas, lejos del humo o del fuego. Si hay fuego, "
        "alguien está herido o un niño puede haberse tragado una pila, llame ahora al número de "
        "emergencias.\n"
        "- Hemos avisado a nuestro equipo de soporte, que se pondrá en contacto con usted con "
        "prioridad. No vuelva a usar el aparato hasta que se haya revisado."
    ),
    "de": (
        "Das klingt nach einem Sicherheitsproblem, deshalb helfen wir hier nicht bei der "
        "Fehlersuche.\n\n"
        "- Benutzen Sie das Gerät nicht mehr.\n"
        "- Wenn es gefahrlos möglich ist, ziehen Sie den Netzstecker oder schalten Sie die "
        "Sicherung aus. Fassen Sie das Gerät nicht an, wenn es nass ist, Funken sprüht oder raucht.\n"
        "- Halten Sie alle, auch Kinder und Haustiere, von Rauch und Feuer fern. Bei Feuer, "
        "Verletzten oder wenn ein Kind eine Batterie verschluckt haben könnte, rufen Sie sofort "
        "den Notruf (112).\n"
        "- Unser Support-Team ist informiert und meldet sich vorrangig bei Ihnen. Benutzen Sie "
        "das Gerät erst wieder, wenn es geprüft wurde."
    ),
    "fr": (
        "Cela ressemble à un problème de sécurité : nous ne le traiterons pas ici.\n\n"
        "- Cessez immédiatement d'utiliser l'appareil.\n"
        "- Si vous pouvez le faire sans danger, débranchez-le de la prise murale ou coupez le "
        "courant au disjoncteur. Ne le touchez pas s'il est mouillé, fait des étincelles ou fume.\n"
        "- Éloignez tout le monde, enfants et animaux compris, de la fumée ou du feu. En cas de "
        "feu, de blessure, ou si un enfant a pu avaler une pile, appelez immédiatement les "
        "secours (112).\n"
        "- Notre équipe d'assistance a été alertée et vous contactera en priorité. N'utilisez "
        "plus l'appareil avant qu'il ait été vérifié."
    ),
    "it": (
        "Sembra un problema di sicurezza, quindi non lo risolveremo qui.\n\n"
        "- Smetta subito di usare l'apparecchio.\n"
        "- Se può farlo in sicurezza, stacchi la spina dalla presa o tolga la corrente dal "
        "quadro elettrico. Non lo tocchi se è bagnato, fa scintille o fumo.\n"
        "- Tenga tutti, anche bambini e animali, lontano da fumo o fiamme. In caso di incendio, "
        "di feriti o se un bambino potrebbe aver ingoiato una pila, chiami subito il numero di "
        "emergenza (112).\n"
        "- Il nostro team di assistenza è stato avvisato e la contatterà con priorità. Non usi "
        "più l'apparecchio finché non è stato controllato."
    ),
    "pt": (
        "Isto parece um problema de segurança, por isso não o vamos resolver aqui.\n\n"
        "- Pare de usar o aparelho agora.\n"
        "- Se for seguro, desligue-o da tomada ou corte a energia no quadro elétrico. Não lhe "
        "toque se estiver molhado, a fazer faíscas ou a deitar fumo.\n"
        "- Mantenha todos, incluindo crianças e animais, longe do fumo ou do fogo. Se houver "
        "fogo, alguém ferido ou se uma criança possa ter engolido uma pilha, ligue já para o "
        "número de emergência.\n"
        "- A nossa equipa de apoio foi avisada e vai contactá-lo com prioridade. Não volte a "
        "usar o aparelho até ser verificado."
    ),
    "zh": (
        "这听起来是一个安全问题，我们不会在这里进行故障排除。\n\n"
        "- 请立即停止使用该设备。\n"
        "- 在确保安全的情况下，拔下电源插头或在配电箱断开电源。如果设备潮湿、冒火花或冒烟，请不要触碰。\n"
        "- 让所有人（包括儿童和宠物）远离烟雾或火源。如果起火、有人受伤，或孩子可能吞下了电池，"
        "请立即拨打当地急救电话（火警 119，急救 120）。\n"
        "- 我们的客服团队已收到通知，会优先与您联系。在设备经过检查之前，请不要再使用。"
    ),
    "ja": (
        "安全に関わる問題のようですので、ここでは対処方法をご案内しません。\n\n"
        "- すぐに製品の使用を中止してください。\n"
        "- 安全にできる場合は、電源プラグをコンセントから抜くか、ブレーカーを切ってください。"
        "濡れている、火花が出ている、煙が出ている場合は触れないでください。\n"
        "- お子様やペットを含め、煙や火から離れてください。火災、けが人がいる場合、またはお子様が"
        "電池を飲み込んだおそれがある場合は、すぐに119番に電話してください。\n"
        "- サポート担当者に通知しました。優先してご連絡します。点検が済むまで製品を使用しないでください。"
    ),
    "ko": (
        "안전 문제로 보여 여기에서는 문제 해결 방법을 안내하지 않습니다.\n\n"
        "- 지금 바로 제품 사용을 중지하세요.\n"
        "- 안전하다면 전원 플러그를 콘센트에서 뽑거나 차단기를 내리세요. 제품이 젖어 있거나 "
        "불꽃이나 연기가 나면 만지지 마세요.\n"
        "- 어린이와 반려동물을 포함해 모두 연기나 불에서 멀리 떨어지세요. 불이 났거나 다친 사람이 "
        "있거나 아이가 배터리를 삼켰을 수 있다면 즉시 119에 전화하세요.\n"
        "- 지원팀에 알렸으며 우선적으로 연락드리겠습니다. 점검을 받기 전에는 제품을 다시 사용하지 마세요."
    ),
}
