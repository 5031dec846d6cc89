"""The retrieve-or-chat router's samples (rag/route), English and Chinese.

The rule (../shared/DOMAIN.md, "RAG"): every knowledge question retrieves; small talk, writing help and anything
answerable from the message alone is chat. So that no surface feature separates the two labels:
  * retrieve messages are questions about the source (the fictional world or the user's corpus) mixed with
    built-in general-knowledge questions about real things (countries, cities, people, elements, science,
    history, and typical knowledge-base questions), which hold no invented name;
  * chat messages name the same real places and people, and the source's invented names, and many of them are
    questions ("Is Velmora a good name for a band?", "What is 12 minus 7?");
  * both sides draw from the same opening phrases.
`meta.route_kind` records where a message came from: world / user / teacher (the source's questions), general
(the built-in list) or chat.
"""

from __future__ import annotations

import random

from suites.rag.source import held_out

ROUTE_LABELS = ("retrieve", "chat")

ROUTE_SYSTEM = {
    "en": [
        "Decide whether the user's message needs a lookup in the knowledge base. Reply with one word: retrieve or chat.",
        "You are a router. If answering requires facts from the knowledge base, output retrieve; for small talk, "
        "writing help or anything answerable without documents, output chat.",
        "Classify the message. Knowledge questions -> retrieve. Everything else -> chat. Output only the label.",
        "Should we search the knowledge base before answering? Answer retrieve (yes) or chat (no).",
    ],
    "zh": [
        "判断用户的消息是否需要检索知识库。只回答一个词：retrieve 或 chat。",
        "你是一个路由器。如果回答需要知识库中的事实，输出 retrieve；闲聊、写作帮助或无需文档即可回答的内容，输出 chat。",
        "对消息进行分类：知识类问题输出 retrieve，其他输出 chat。只输出标签。",
        "回答之前需要检索知识库吗？需要回答 retrieve，不需要回答 chat。",
    ],
}

# openings shared by both labels, so that none of them hints at the label
PREFIXES = {
    "en": ["", "", "", "", "Hi! ", "Hello. ", "Good morning. ", "Sorry to bother you. ", "One more thing. ",
           "Hey there. "],
    "zh": ["", "", "", "", "你好！", "您好，", "早上好！", "打扰一下，", "还有一件事：", "嗨，"],
}

# real entities (English name, Chinese name), used by general-knowledge questions and by chat messages alike
REAL = {
    "country": [("France", "法国"), ("Japan", "日本"), ("Brazil", "巴西"), ("Egypt", "埃及"), ("Canada", "加拿大"),
                ("India", "印度"), ("Australia", "澳大利亚"), ("Kenya", "肯尼亚"), ("Mexico", "墨西哥"),
                ("Norway", "挪威"), ("Argentina", "阿根廷"), ("Vietnam", "越南")],
    "city": [("Paris", "巴黎"), ("Tokyo", "东京"), ("Cairo", "开罗"), ("Sydney", "悉尼"), ("Istanbul", "伊斯坦布尔"),
             ("Rome", "罗马"), ("Shanghai", "上海"), ("Chicago", "芝加哥"), ("Lima", "利马"), ("Berlin", "柏林")],
    "person": [("Marie Curie", "玛丽·居里"), ("Isaac Newton", "艾萨克·牛顿"), ("Confucius", "孔子"),
               ("Ada Lovelace", "阿达·洛芙莱斯"), ("Leonardo da Vinci", "列奥纳多·达·芬奇"), ("Li Bai", "李白"),
               ("Charles Darwin", "查尔斯·达尔文"), ("Nelson Mandela", "纳尔逊·曼德拉"), ("Frida Kahlo", "弗里达·卡罗"),
               ("Alan Turing", "艾伦·图灵")],
    "element": [("oxygen", "氧"), ("gold", "金"), ("iron", "铁"), ("helium", "氦"), ("carbon", "碳"), ("sodium", "钠"),
                ("uranium", "铀"), ("copper", "铜")],
}

GENERAL_TEMPLATES = {
    "en": {
        "country": ["What is the capital of {x}?", "What currency is used in {x}?", "What is the population of {x}?",
                    "Which languages are spoken in {x}?", "What is the highest mountain in {x}?",
                    "Which continent is {x} in?", "Tell me the official languages of {x}."],
        "city": ["Which river flows through {x}?", "When was {x} founded?", "What is {x} famous for?",
                 "How many people live in {x}?", "Which time zone is {x} in?", "Give me a short history of {x}."],
        "person": ["When was {x} born?", "Where did {x} die?", "What is {x} best known for?", "Where did {x} grow up?",
                   "Who influenced {x}?", "Summarise the life of {x}."],
        "element": ["What is the atomic number of {x}?", "What is the melting point of {x}?",
                    "What is {x} used for?", "What is the chemical symbol for {x}?", "List the main uses of {x}."],
    },
    "zh": {
        "country": ["{x}的首都是哪里？", "{x}使用什么货币？", "{x}有多少人口？", "{x}的官方语言是什么？", "{x}最高的山是哪座？",
                    "{x}位于哪个大洲？", "介绍一下{x}的官方语言。"],
        "city": ["哪条河流经{x}？", "{x}是什么时候建城的？", "{x}以什么闻名？", "{x}有多少人口？", "{x}属于哪个时区？", "简单讲讲{x}的历史。"],
        "person": ["{x}是哪一年出生的？", "{x}在哪里去世？", "{x}最著名的成就是什么？", "{x}是在哪里长大的？", "哪些人影响了{x}？", "概括一下{x}的生平。"],
        "element": ["{x}的原子序数是多少？", "{x}的熔点是多少？", "{x}有什么用途？", "{x}的化学符号是什么？", "列出{x}的主要用途。"],
    },
}

GENERAL_QUESTIONS = {
    "en": [
        "How far is the Moon from the Earth?", "What causes the seasons on Earth?",
        "When did the Second World War end?", "How many bones are in the adult human body?", "Why is the sky blue?",
        "What is the speed of light?", "Who wrote Pride and Prejudice?", "How does a vaccine train the immune system?",
        "What is the boiling point of water at sea level?", "Which planet has the most moons?",
        "How long is the Great Wall of China?", "What is the largest ocean on Earth?",
        "When was the printing press invented?", "What does DNA stand for?", "How tall is Mount Everest?",
        "Which country has won the most football World Cups?", "What is the difference between a virus and a bacterium?",
        "How old is the universe?", "Who painted the Mona Lisa?", "What is photosynthesis?",
        "How many time zones does Russia have?", "When was the Tang dynasty founded?",
        "What is our refund policy for cancelled orders?", "How many vacation days do new employees get?",
        "Which documents do I need to open a bank account?", "What are the opening hours of the city library?",
        "What is the maximum weight for checked luggage?", "Who is the current head of the finance department?",
        "Explain how a rainbow forms.", "Tell me about the fall of the Western Roman Empire.", "Describe the water cycle.",
        "Give me the dates of the French Revolution.", "Tell me the warranty period for our laptops.",
    ],
    "zh": [
        "月球离地球有多远？", "地球为什么会有四季？", "第二次世界大战是哪一年结束的？", "成年人有多少块骨头？", "天空为什么是蓝色的？",
        "光速是多少？", "《红楼梦》的作者是谁？", "疫苗是如何训练免疫系统的？", "水在海平面的沸点是多少度？", "哪颗行星的卫星最多？",
        "长城有多长？", "地球上最大的海洋是哪个？", "活字印刷术是谁发明的？", "DNA的全称是什么？", "珠穆朗玛峰有多高？",
        "哪个国家获得世界杯冠军的次数最多？", "病毒和细菌有什么区别？", "宇宙有多少岁了？", "《蒙娜丽莎》是谁画的？", "什么是光合作用？",
        "俄罗斯有几个时区？", "唐朝是哪一年建立的？", "取消订单后的退款政策是什么？", "新员工有多少天年假？",
        "开银行账户需要带哪些证件？", "市图书馆的开放时间是几点到几点？", "托运行李的重量上限是多少？", "财务部现在的负责人是谁？",
        "解释一下彩虹是怎么形成的。", "讲讲西罗马帝国是怎么灭亡的。", "描述一下水循环。", "说说法国大革命的起止年份。", "告诉我公司笔记本电脑的保修期。",
    ],
}

CHAT_MESSAGES = {
    "en": [
        "Hi there!", "Good morning, how are you?", "Hello! Nice to meet you.", "Hey, what's up?",
        "Thanks, that was helpful.", "Thank you so much!", "Write a short poem about {thing}.",
        "Can you help me write a birthday message for my {relation}?",
        "Rewrite this sentence to sound more formal: \"{sentence}\"", "Translate \"{sentence}\" into French.",
        "Give me three names for a {pet}.", "Tell me a joke about {thing}.", "Summarise this in one line: \"{sentence}\"",
        "Fix the grammar: \"{sentence}\"", "What is {a} plus {b}?", "Compute {a} times {b}.", "Is {a} an even number?",
        "I'm feeling a bit tired today.", "Do you like {thing}?", "Let's play a word game.",
        "What should I name my {pet}?", "Write a haiku about {thing}.", "Make this friendlier: \"{sentence}\"",
        "Count the words in \"{sentence}\".", "Good night!", "Can you cheer me up?",
        # naming real places and people, and the source's invented names, without asking for facts about them
        "Write a short poem about {place}.", "Translate \"I would love to visit {place} one day\" into Spanish.",
        "Give me a catchy caption for my holiday photos from {place}.",
        "Make up a funny name for a cat, inspired by {person}.", "Write a haiku about {name}.",
        "Is {name} a good name for a band?", "Spell {name} backwards.", "How many letters are in the name {name}?",
        "Write a two-line slogan for a cafe called {name}.", "What do you think of the name {name} for my boat?",
        "How are you doing today?", "What is {a} minus {b}?", "Can you tell me a story about {thing}?",
        "What would you like to talk about?", "Can you write a short poem about {thing}?",
        "Could you translate \"{sentence}\" into German?", "Would you help me write a thank-you note to my {relation}?",
        "Can you make this sound friendlier: \"{sentence}\"?", "Could you suggest a name for my {pet}?",
        "Do you want to hear a joke?", "Can you give me a word that rhymes with {thing}?",
        "Could you write a limerick about {name}?", "Write a short story about {name}.",
        "Make an acrostic poem from the letters of {name}.",
    ],
    "zh": [
        "你好！", "早上好，最近怎么样？", "很高兴认识你！", "谢谢你的帮助！", "太感谢了！", "写一首关于{thing}的短诗。",
        "帮我给{relation}写一段生日祝福。", "把这句话改得更正式一些：“{sentence}”", "把“{sentence}”翻译成英文。",
        "给我的{pet}起三个名字。", "讲个关于{thing}的笑话。", "{a}加{b}等于多少？", "计算{a}乘以{b}。", "{a}是偶数吗？",
        "我今天有点累。", "我们来玩个文字游戏吧。", "用一句话总结：“{sentence}”", "帮我改一下语病：“{sentence}”",
        "你喜欢{thing}吗？", "我的{pet}该叫什么名字好？", "晚安！", "能说点什么让我开心一下吗？",
        "把“{sentence}”改得更亲切一些。", "写一段关于{thing}的小短文。",
        "写一首关于{place}的短诗。", "把“我很想去{place}旅行”翻译成英文。", "帮我给在{place}拍的旅行照片想一句文案。",
        "以{person}为灵感，给我的猫起个有趣的名字。", "写一首关于{name}的俳句。", "{name}这个名字适合做乐队名吗？",
        "把“{name}”倒过来写。", "“{name}”这个名字有几个字？", "给一家叫{name}的咖啡馆写一句广告语。",
        "你觉得把我的船叫{name}怎么样？", "你今天过得怎么样？", "{a}减{b}等于多少？", "能给我讲一个关于{thing}的故事吗？",
        "你想聊点什么？", "能帮我写一首关于{thing}的短诗吗？", "可以把“{sentence}”翻译成德语吗？", "能帮我给{relation}写一张感谢卡吗？",
        "能把“{sentence}”说得更亲切一点吗？", "可以帮我的{pet}想个名字吗？", "想听个笑话吗？", "你能陪我聊聊天吗？",
        "可以写一首关于{name}的打油诗吗？", "写一个关于{name}的小故事。", "用“{name}”写一首藏头诗。",
    ],
}

CHAT_FILLERS = {
    "en": {"thing": ["autumn", "the sea", "coffee", "mountains", "a lost umbrella", "rainy Mondays", "cats", "trains"],
           "relation": ["sister", "grandfather", "colleague", "best friend", "neighbour"],
           "sentence": ["the meeting got moved to friday", "i cant find my keys anywhere", "the weather is lovely today",
                        "we will ship the order tomorrow", "pls send me the file asap"],
           "pet": ["cat", "puppy", "goldfish", "parrot", "hamster"]},
    "zh": {"thing": ["秋天", "大海", "咖啡", "高山", "雨天", "猫", "火车", "月亮"],
           "relation": ["姐姐", "爷爷", "同事", "好朋友", "邻居"],
           "sentence": ["会议改到周五了", "我到处都找不到钥匙", "今天天气真好", "我们明天发货", "麻烦尽快把文件发我"],
           "pet": ["猫", "小狗", "金鱼", "鹦鹉", "仓鼠"]},
}

GREETINGS = {"en": ("Hi", "Hello", "Hey", "Good", "Thank"), "zh": ("你好", "早上好", "很高兴", "谢谢", "太感谢", "晚安")}
LANG_INDEX = {"en": 0, "zh": 1}


def real_names(lang: str, *kinds: str) -> list[str]:
    return [pair[LANG_INDEX[lang]] for kind in kinds for pair in REAL[kind]]


def general_questions(lang: str) -> list[str]:
    """The built-in general-knowledge questions, in a fixed order: hand-written ones, then every template over
    every real entity of its kind."""
    out = list(GENERAL_QUESTIONS[lang])
    for kind, templates in GENERAL_TEMPLATES[lang].items():
        out += [t.format(x=x) for t in templates for x in real_names(lang, kind)]
    return out


SPLITS = ("all", "train", "eval")
EVAL_GENERAL_SHARE = 0.2


def general_split(lang: str, split: str = "all") -> list[tuple[int, str]]:
    """(index in general_questions(lang), question) for a split: "all", or "train" / "eval", disjoint shares
    (about 80% / 20%) chosen by a hash of the question, so an eval set asks the router other questions."""
    if split not in SPLITS:
        raise ValueError(f"route general split must be one of {SPLITS}, got {split!r}")
    return [(k, q) for k, q in enumerate(general_questions(lang))
            if split == "all" or held_out(q, EVAL_GENERAL_SHARE) == (split == "eval")]


def route_sample(rng: random.Random, lang: str, qas: list, invented: list[str], general: list[tuple[int, str]],
                 retrieve_share: float, general_share: float) -> tuple[list[dict], str, dict]:
    """(messages, label, meta) for one router sample. `qas`: the source's questions; `invented`: its entity names
    (empty for a user corpus); `general`: the general-knowledge questions to draw from (`general_split`). A
    retrieve sample asks one of those with probability `general_share` (always when the source has no
    question), else one of the source's questions."""
    system_id = rng.randrange(len(ROUTE_SYSTEM[lang]))
    prefix_id = rng.randrange(len(PREFIXES[lang]))
    qa_id = None
    if rng.random() < retrieve_share:
        label = "retrieve"
        if not qas or rng.random() < general_share:
            kind = "general"
            message_id, text = general[rng.randrange(len(general))]
        else:
            qa = rng.choice(qas)
            kind, message_id, qa_id = qa.origin, -1, qa.id
            text = rng.choice(qa.questions)
    else:
        label, kind = "chat", "chat"
        message_id = rng.randrange(len(CHAT_MESSAGES[lang]))
        fillers = {k: rng.choice(v) for k, v in CHAT_FILLERS[lang].items()}
        place = rng.choice(real_names(lang, "city", "country"))
        person = rng.choice(real_names(lang, "person"))
        name = rng.choice(invented) if invented and rng.random() < 2 / 3 else rng.choice((place, person))
        text = CHAT_MESSAGES[lang][message_id].format(**fillers, place=place, person=person, name=name,
                                                      a=rng.randint(2, 999), b=rng.randint(2, 999))
    if text.startswith(GREETINGS[lang]):  # no opening phrase before a greeting ("Hello. Good night!")
        prefix_id = 0
    messages = [{"role": "system", "content": ROUTE_SYSTEM[lang][system_id]},
                {"role": "user", "content": PREFIXES[lang][prefix_id] + text}]
    meta = {"route": label, "route_kind": kind, "qa_id": qa_id,
            "templates": {"system": system_id, "prefix": prefix_id, "message": message_id}}
    return messages, label, meta
