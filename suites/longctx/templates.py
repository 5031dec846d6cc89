"""English and Chinese phrasings of every long-context task: instructions, needles, questions, answers.

Each list holds interchangeable templates; a sample draws one of each, so neither the prompt nor the
trained answer collapses into one sentence. Placeholders: {value} {key} {name} {count} {values} {keys}
{chapters} {pairs}. Needles state their value once (the generator checks it occurs once per needle).
"""

from __future__ import annotations

SYSTEM = {
    "en": ["You are a helpful assistant.", "You read long documents carefully and answer precisely.",
           "Answer using only the information in the user's text."],
    "zh": ["你是一个乐于助人的助手。", "你会仔细阅读长文档并准确回答。", "只根据用户提供的文字回答问题。"],
}

PASSKEY = {
    "en": {
        "instruction": [
            "There is an important piece of information hidden inside a lot of irrelevant text. Find it and "
            "memorize it. I will quiz you about it.",
            "A pass key is hidden somewhere in the text below. Read carefully and remember it.",
            "The following text is mostly filler, but it contains one pass key. Find it.",
            "Somewhere in this long passage a pass key is mentioned. Keep it in mind; you will be asked for it.",
        ],
        "needle": ["The pass key is {value}. Remember it.", "Remember this pass key: {value}.",
                   "The pass key you need is {value}.", "Note: the pass key is {value}. Keep it in mind."],
        "question": ["What is the pass key?", "What is the pass key mentioned in the text?",
                     "Which pass key was hidden in the text?", "Tell me the pass key."],
        "answer": ["The pass key is {value}.", "{value}", "The pass key mentioned in the text is {value}.",
                   "It is {value}."],
    },
    "zh": {
        "instruction": ["下面大量无关的文字中藏着一条重要信息。请找到并记住它，之后我会问你。",
                        "下文某处藏着一个通行密钥，请仔细阅读并记住它。",
                        "下面的文字大多是填充内容，其中只有一个通行密钥，请把它找出来。",
                        "这段长文中提到了一个通行密钥，请记住它，稍后会问你。"],
        "needle": ["通行密钥是{value}。请记住它。", "请记住这个通行密钥：{value}。", "你需要的通行密钥是{value}。",
                   "注意：通行密钥是{value}，请记好。"],
        "question": ["通行密钥是什么？", "文中提到的通行密钥是多少？", "文中藏着的通行密钥是哪个？", "请告诉我通行密钥。"],
        "answer": ["通行密钥是{value}。", "{value}", "文中提到的通行密钥是{value}。", "是{value}。"],
    },
}

# The classic passkey needle (Mohtashami & Jaggi, 2023) in one fixed, short prompt: the needle states the key
# twice, and that short-range repeat lets a small model trained from scratch discover copying (induction) before
# it must copy across the whole context. The demo trains on it; the prompt is short so 112-token samples fit.
PASSKEY_CLASSIC = {
    "en": {
        "instruction": ["Find and remember the pass key hidden in the text below."],
        "needle": ["The pass key is {value}. Remember it. {value} is the pass key."],
        "question": ["What is the pass key?"],
        "answer": ["The pass key is {value}."],
    },
    "zh": {
        "instruction": ["请找到并记住下文中藏着的通行密钥。"],
        "needle": ["通行密钥是{value}。记住它。{value}就是通行密钥。"],
        "question": ["通行密钥是什么？"],
        "answer": ["通行密钥是{value}。"],
    },
}

NIAH = {
    "en": {
        "instruction": [
            "Some special magic numbers are hidden within the following text. Make sure to memorize them. I "
            "will quiz you about the numbers afterwards.",
            "Read the text below. A few special magic numbers are hidden in it; remember which key each belongs to.",
            "The long text below hides special magic numbers tied to keys. Find them.",
        ],
        "needle": ["One of the special magic numbers for {key} is: {value}.",
                   "The special magic number for {key} is {value}.",
                   "Remember that the special magic number for {key} is {value}."],
        "question_single": ["What is the special magic number for {key} mentioned in the provided text?",
                            "Which special magic number belongs to {key}?",
                            "According to the text, what is the special magic number for {key}?"],
        "answer_single": ["The special magic number for {key} is {value}.", "{value}",
                          "The text says the special magic number for {key} is {value}."],
        "question_values": ["What are all the special magic numbers for {key} mentioned in the provided text?",
                            "List every special magic number given for {key}."],
        "answer_values": ["The special magic numbers for {key} are: {values}.", "{values}"],
        "question_queries": ["What are the special magic numbers for {keys} mentioned in the provided text?",
                             "Give the special magic number of each of these keys: {keys}."],
        "answer_queries": ["The special magic numbers are: {pairs}.", "{pairs}"],
    },
    "zh": {
        "instruction": ["下文中藏着一些特殊魔法数字，请记住它们，稍后我会提问。",
                        "请阅读下面的文字，其中藏着几个特殊魔法数字，记住每个数字属于哪个关键词。",
                        "下面的长文里藏着与关键词对应的特殊魔法数字，请找出来。"],
        "needle": ["{key}的一个特殊魔法数字是：{value}。", "{key}的特殊魔法数字是{value}。",
                   "请记住，{key}的特殊魔法数字是{value}。"],
        "question_single": ["文中提到的{key}的特殊魔法数字是多少？", "哪个特殊魔法数字属于{key}？",
                            "根据上文，{key}的特殊魔法数字是什么？"],
        "answer_single": ["{key}的特殊魔法数字是{value}。", "{value}", "文中说{key}的特殊魔法数字是{value}。"],
        "question_values": ["文中提到的{key}的所有特殊魔法数字是哪些？", "请列出{key}的每一个特殊魔法数字。"],
        "answer_values": ["{key}的特殊魔法数字是：{values}。", "{values}"],
        "question_queries": ["文中提到的{keys}的特殊魔法数字分别是多少？", "请给出这些关键词各自的特殊魔法数字：{keys}。"],
        "answer_queries": ["这些特殊魔法数字是：{pairs}。", "{pairs}"],
    },
}

VARIABLES = {
    "en": {
        "instruction": ["Memorize and track the chain(s) of variable assignments hidden in the following text.",
                        "The text below hides variable assignments such as VAR X = 12345 and VAR Y = VAR X. "
                        "Keep track of them."],
        "first": ["VAR {name} = {value}."],
        "link": ["VAR {name} = VAR {source}."],
        "question": ["Find all variables that are assigned the value {value} in the text above.",
                     "Which variables end up holding the value {value}?"],
        "answer": ["The variables assigned the value {value} are: {names}.", "{names}"],
    },
    "zh": {
        "instruction": ["请记住并追踪下文中隐藏的变量赋值链。", "下文藏着形如 VAR X = 12345 和 VAR Y = VAR X 的变量赋值，请追踪它们。"],
        "first": ["VAR {name} = {value}。"],
        "link": ["VAR {name} = VAR {source}。"],
        "question": ["找出上文中所有被赋值为{value}的变量。", "哪些变量最终的值是{value}？"],
        "answer": ["被赋值为{value}的变量有：{names}。", "{names}"],
    },
}

COUNTING = {
    "en": {
        "instruction": ["Read the following text carefully. I will ask how often a person appears in it.",
                        "The text below mentions a certain person several times. Keep count."],
        "mention": ["{name} walked past the old mill.", "{name} smiled at the crowd.", "{name} opened the window.",
                    "{name} wrote a short letter.", "{name} fed the cat before leaving.", "{name} crossed the bridge.",
                    "{name} bought fresh bread at the market.", "{name} listened to the rain."],
        "question": ["How many times is {name} mentioned in the text above?",
                     "Count how often {name} appears in the text. How many times is it?"],
        "answer": ["{name} is mentioned {count} times.", "{count}", "{name} appears {count} times in the text."],
    },
    "zh": {
        "instruction": ["请仔细阅读下面的文字，我会问某个人在其中出现了几次。", "下文多次提到某个人，请数一数。"],
        "mention": ["{name}走过了那座旧磨坊。", "{name}对着人群笑了笑。", "{name}打开了窗户。", "{name}写了一封短信。",
                    "{name}出门前喂了猫。", "{name}走过了那座桥。", "{name}在集市上买了新鲜的面包。", "{name}静静地听着雨声。"],
        "question": ["{name}在上文中一共出现了几次？", "数一数{name}在文中出现了多少次。"],
        "answer": ["{name}一共出现了{count}次。", "{count}", "{name}在文中出现了{count}次。"],
    },
}

CHAPTERS = {
    "en": {
        "instruction": ["The following text is divided into chapters. I will ask in which chapters a person "
                        "appears.", "Read the chapters below and note where a certain person shows up."],
        "heading": ["Chapter {number}"],
        "mention": COUNTING["en"]["mention"],
        "question": ["In which chapters does {name} appear?", "List the chapters in which {name} is mentioned."],
        "answer": ["{name} appears in chapters {chapters}.", "{chapters}", "Chapters {chapters} mention {name}."],
    },
    "zh": {
        "instruction": ["下面的文字分成若干章，我会问某个人出现在哪几章。", "请阅读下面各章，留意某个人在哪些章里出现。"],
        "heading": ["第{number}章"],
        "mention": COUNTING["zh"]["mention"],
        "question": ["{name}出现在哪几章？", "请列出提到{name}的章节。"],
        "answer": ["{name}出现在第{chapters}章。", "{chapters}", "提到{name}的是第{chapters}章。"],
    },
}

DOC_QA = {
    "en": {
        "instruction": ["Answer the question using the document hidden in the text below.",
                        "The following text contains a relevant document among unrelated material. Read it and "
                        "answer the question at the end."],
        "document": ["Document: {document}"],
        "question": ["Question: {question}", "{question}"],
    },
    "zh": {
        "instruction": ["请根据下文中藏着的文档回答问题。", "下文在无关内容中夹着一篇相关文档，请阅读后回答最后的问题。"],
        "document": ["文档：{document}"],
        "question": ["问题：{question}", "{question}"],
    },
}

LIST_JOIN = {"en": ", ", "zh": "、"}
PAIR = {"en": "{key}: {value}", "zh": "{key}：{value}"}

ADJECTIVES = {
    "en": ["quiet", "amber", "brisk", "crimson", "distant", "eager", "frozen", "gentle", "hollow", "ivory", "jagged",
           "lucky", "mellow", "narrow", "olive", "purple", "rapid", "silver", "tidy", "velvet", "wild", "yellow",
           "ancient", "bold", "cobalt", "dusty", "fancy", "golden", "hidden", "loyal"],
    "zh": ["安静的", "琥珀色的", "轻快的", "深红的", "遥远的", "热切的", "冰冷的", "温柔的", "空心的", "象牙色的", "锯齿状的",
           "幸运的", "醇厚的", "狭窄的", "橄榄色的", "紫色的", "迅速的", "银色的", "整洁的", "丝绒般的", "野性的", "黄色的",
           "古老的", "大胆的", "钴蓝的", "布满灰尘的", "花哨的", "金色的", "隐秘的", "忠诚的"],
}
NOUNS = {
    "en": ["lantern", "harbor", "meadow", "anvil", "compass", "falcon", "garden", "kettle", "ladder", "mirror",
           "orchard", "pebble", "quarry", "ribbon", "saddle", "teapot", "umbrella", "violin", "walnut", "zeppelin",
           "beacon", "canyon", "dolphin", "engine", "feather", "glacier", "island", "jungle", "kayak", "lighthouse"],
    "zh": ["灯笼", "港口", "草地", "铁砧", "罗盘", "猎鹰", "花园", "水壶", "梯子", "镜子", "果园", "鹅卵石", "采石场",
           "丝带", "马鞍", "茶壶", "雨伞", "小提琴", "核桃", "飞艇", "灯塔", "峡谷", "海豚", "引擎", "羽毛", "冰川",
           "岛屿", "丛林", "皮划艇", "风车"],
}
FIRST_NAMES = ["Varnok", "Mireva", "Tolvane", "Quessa", "Brandor", "Elowin", "Castrel", "Nymira", "Orlath", "Pellish",
               "Ravena", "Sorrik", "Thalvin", "Ulmera", "Wendrel", "Yssolde", "Zarkov", "Idrenne", "Kovald", "Lunessa"]
SURNAMES = ["Stolk", "Ferrowind", "Ashcombe", "Druvell", "Mallory", "Quint", "Harrowgate", "Pennick", "Vessler",
            "Orrin", "Blackmere", "Tamsett", "Greaves", "Wyncott", "Elsworth"]
ZH_SURNAMES = ["欧阳", "司马", "诸葛", "上官", "慕容", "东方", "独孤", "令狐", "南宫", "西门"]
ZH_GIVEN = ["墨川", "听澜", "晚舟", "清越", "砚秋", "临风", "望舒", "星阑", "若谷", "云岫", "知远", "青禾"]
