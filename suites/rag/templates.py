"""Phrasing for RAG samples, English and Chinese: system prompts, prompt layouts and answers per scenario (the
retrieve-or-chat router's messages are in routing.py). Placeholders: {c} cited document number, {clause} a statement of the
answer, {value} the answer, {topic} what was asked, {refs} cited numbers, {titles} document titles,
{a}/{b} the disagreeing documents with values {va}/{vb}, statements {clause_a}/{clause_b}, titles {ta}/{tb}.
A template whose {clause}/{value}/{ta} opens the sentence is written {Clause}/{Value}/{Ta} (capitalised)."""

from __future__ import annotations

SYSTEM = {
    "en": [
        "You are a question-answering assistant. Answer only from the retrieved documents and cite them by number, "
        "like [1]. If the documents do not contain the answer, say so; do not guess.",
        "Use the numbered documents from the knowledge base to answer. Cite the documents you rely on as [n]. When "
        "the documents say nothing about the question, tell the user instead of making something up.",
        "You answer with information from a knowledge base. Trust the documents over your own memory, cite them "
        "([1], [2], ...), and point out when sources disagree.",
        "Answer the user's question using the search results. Every claim must cite a result number in square "
        "brackets. If nothing relevant was found, say that the knowledge base has no answer.",
        "Ground your answer in the provided documents and cite with [n]. If documents conflict, report both versions "
        "with their sources. If they are empty or off-topic, decline to answer.",
        "You are a retrieval-augmented assistant. The documents are the source of truth, even where they differ from "
        "what you believe. Cite them by number.",
        "Read the retrieved passages and answer briefly with [number] citations. Do not add facts that are not in "
        "the passages.",
        "Knowledge-base assistant: answer from the documents only, cite as [1], [2]; if the answer is not there, say "
        "you cannot find it.",
    ],
    "zh": [
        "你是一个问答助手。只根据检索到的文档回答，并用编号引用文档，例如[1]。如果文档中没有答案，请直接说明，不要猜测。",
        "请使用知识库中带编号的文档回答问题，并以[n]的形式引用所依据的文档。文档没有涉及问题时，请如实告知用户，不要编造。",
        "你根据知识库的信息作答。文档比你的记忆更可靠；请引用文档（[1]、[2]……），并在来源不一致时指出来。",
        "请根据检索结果回答用户的问题。每个结论都要用方括号标注结果编号。如果没有找到相关内容，就说明知识库中没有答案。",
        "回答必须以所给文档为依据，用[n]引用。如果文档互相矛盾，请同时给出两种说法及其来源；如果文档为空或与问题无关，请拒绝回答。",
        "你是一个检索增强的助手。即使文档与你的认知不同，也以文档为准，并按编号引用。",
        "阅读检索到的段落，简要作答，并用[编号]引用。不要添加段落中没有的事实。",
        "知识库助手：只依据文档回答，引用格式为[1]、[2]；如果文档里没有答案，请说明找不到。",
    ],
}

# (prompt with {docs} and {question}, one document with {n} {title} {text}, separator, text when nothing was retrieved)
LAYOUTS = {
    "en": [
        ("Documents:\n\n{docs}\n\nQuestion: {question}", "[{n}] {title}\n{text}", "\n\n", "(no documents found)"),
        ("Question: {question}\n\nRetrieved documents:\n{docs}", "[{n}] ({title}) {text}", "\n", "none"),
        ("<documents>\n{docs}\n</documents>\n\n{question}", "[{n}] {title}: {text}", "\n", ""),
        ("Here is what the search returned:\n\n{docs}\n\nUsing these, answer: {question}", "[{n}] {title}\n{text}",
         "\n\n", "The search returned no results."),
        ("{question}\n\nContext:\n{docs}", "[{n}] {title} | {text}", "\n", "(empty)"),
    ],
    "zh": [
        ("参考文档：\n\n{docs}\n\n问题：{question}", "[{n}] {title}\n{text}", "\n\n", "（无检索结果）"),
        ("问题：{question}\n\n检索到的文档：\n{docs}", "[{n}]（{title}）{text}", "\n", "无"),
        ("<documents>\n{docs}\n</documents>\n\n{question}", "[{n}] {title}：{text}", "\n", ""),
        ("以下是知识库的检索结果：\n\n{docs}\n\n请据此回答：{question}", "[{n}] {title}\n{text}", "\n\n", "（检索结果为空）"),
        ("{question}\n\n资料：\n{docs}", "[{n}] {title} | {text}", "\n", "（空）"),
    ],
}

# statements of the answer for questions that come without one (a user corpus): one is drawn per sample
GENERIC_STATEMENTS = {
    "en": ["the answer is {value}", "it is {value}", "the answer to your question is {value}",
           "what you are asking about is {value}", "the information you need is {value}", "the relevant answer is {value}"],
    "zh": ["答案是{value}", "答案为{value}", "问题的答案是{value}", "你要找的信息是{value}", "所问的内容是{value}", "对应的答案是{value}"],
}
GENERIC_TOPIC = {"en": 'the answer to "{question}"', "zh": "“{question}”的答案"}

GROUNDED = {
    "en": [
        "According to [{c}], {clause}.", "{Clause} [{c}].", "Document [{c}] says that {clause}.",
        "{Value}. As document [{c}] puts it, {clause}.", "Based on the retrieved document [{c}], {clause}.",
        "The answer is {value} [{c}].", "{Clause}, according to document [{c}].", "From [{c}]: {clause}.",
        "As stated in [{c}], {clause}.", "Per document [{c}], {clause}.", "{Clause}. Source: [{c}].",
        "The documents answer this: {clause} [{c}].",
    ],
    "zh": [
        "根据文档[{c}]，{clause}。", "{clause}[{c}]。", "文档[{c}]提到，{clause}。", "答案是{value}[{c}]。",
        "依据检索到的文档[{c}]，{clause}。", "从文档[{c}]可知，{clause}。", "资料[{c}]显示，{clause}。",
        "按照文档[{c}]的记载，{clause}。", "{value}。文档[{c}]写道：{clause}。", "{clause}。出处：[{c}]。",
        "检索结果[{c}]表明，{clause}。", "据[{c}]，{clause}。",
    ],
}

MULTI_DOC = {
    "en": [
        "{Bridge} [{c1}], and {clause} [{c2}].",
        "According to [{c1}], {bridge}. Document [{c2}] says that {clause}. So the answer is {value}.",
        "{Value}. {Bridge} [{c1}], and {clause} [{c2}].",
        "First, {bridge} [{c1}]. Then, [{c2}] states that {clause}.",
        "Combining [{c1}] and [{c2}]: {bridge}, and {clause}.",
        "This takes two documents. [{c1}]: {bridge}. [{c2}]: {clause}. The answer is {value}.",
        "{Bridge}, as [{c1}] says; and per [{c2}], {clause}.",
    ],
    "zh": [
        "{bridge}[{c1}]，而{clause}[{c2}]。",
        "根据文档[{c1}]，{bridge}；文档[{c2}]提到，{clause}。所以答案是{value}。",
        "答案是{value}。{bridge}[{c1}]，{clause}[{c2}]。",
        "先看文档[{c1}]：{bridge}。再看文档[{c2}]：{clause}。",
        "结合文档[{c1}]和[{c2}]可知，{bridge}，并且{clause}。",
        "这需要两份文档：[{c1}]表明{bridge}，[{c2}]表明{clause}。答案是{value}。",
        "据[{c1}]，{bridge}；又据[{c2}]，{clause}。",
    ],
}

MULTI_DOC_GENERIC = {  # two-document questions from user data, where no first-hop clause is known
    "en": [
        "Combining [{c1}] and [{c2}], the answer is {value}.",
        "The answer is {value}; it takes both [{c1}] and [{c2}] to see this.",
        "{Value}, based on documents [{c1}] and [{c2}].",
        "Documents [{c1}] and [{c2}] together give the answer: {value}.",
        "Reading [{c1}] together with [{c2}]: {value}.",
    ],
    "zh": [
        "结合文档[{c1}]和[{c2}]，答案是{value}。",
        "答案是{value}，需要同时参考[{c1}]和[{c2}]。",
        "{value}，依据文档[{c1}]和[{c2}]。",
        "文档[{c1}]和[{c2}]合起来给出答案：{value}。",
        "把[{c1}]和[{c2}]结合起来看：{value}。",
    ],
}

EMPTY = {
    "en": [
        "No documents were retrieved, so I cannot tell you {topic}. I'd rather not guess.",
        "The knowledge base returned nothing for this question, so I don't know {topic}.",
        "I couldn't find anything in the knowledge base about {topic}, so I can't answer.",
        "Retrieval came back empty. Without a source I can't state {topic}.",
        "There are no retrieved documents to answer from, and I won't guess {topic}.",
        "Sorry, the knowledge base has no information on {topic}.",
        "Nothing was retrieved for this question, so I can't give {topic} without making it up.",
        "The search returned no documents, so I have no reliable source for {topic}.",
        "I don't know: no documents about {topic} were found in the knowledge base.",
        "The knowledge base has nothing on {topic}. You could add a document about it and ask again.",
    ],
    "zh": [
        "没有检索到任何文档，所以我无法告诉你{topic}，也不想凭空猜测。",
        "知识库没有返回相关内容，因此我不知道{topic}。",
        "知识库里找不到关于{topic}的信息，我无法回答。",
        "检索结果为空。没有可靠来源，我不能给出{topic}。",
        "没有可供参考的文档，我不会猜测{topic}。",
        "抱歉，知识库中没有关于{topic}的资料。",
        "这个问题没有检索到任何内容，如果硬要给出{topic}就是编造。",
        "搜索没有返回文档，我没有关于{topic}的可靠来源。",
        "我不知道：知识库中没有找到有关{topic}的文档。",
        "知识库里没有{topic}的记录。你可以补充相关文档后再问。",
    ],
}

IRRELEVANT = {
    "en": [
        "None of the retrieved documents ({refs}) mention {topic}, so I can't answer from them.",
        "The documents are about {titles}, not about {topic}. I don't know the answer from these sources.",
        "I checked {refs}, but they don't contain {topic}.",
        "The retrieved documents don't cover {topic}; they discuss {titles} instead. I can't answer this reliably.",
        "The documents {refs} are unrelated to the question, so I cannot tell you {topic}.",
        "Sorry, the search results ({titles}) say nothing about {topic}.",
        "There is no information on {topic} in the retrieved documents. I won't guess.",
        "The knowledge base returned {refs}, but none of them gives {topic}.",
        "These documents talk about {titles}; {topic} is not in them, so I can't answer.",
        "I can't find {topic} in any of the documents {refs}.",
    ],
    "zh": [
        "检索到的文档（{refs}）都没有提到{topic}，所以我无法据此回答。",
        "这些文档讲的是{titles}，而不是{topic}。根据这些资料，我不知道答案。",
        "我查看了{refs}，但其中没有{topic}。",
        "检索到的文档没有涉及{topic}，它们讨论的是{titles}。我无法可靠地回答。",
        "文档{refs}与问题无关，因此我不能告诉你{topic}。",
        "抱歉，搜索结果（{titles}）没有提到{topic}。",
        "检索到的文档里没有关于{topic}的信息，我不会猜测。",
        "知识库返回了{refs}，但都没有给出{topic}。",
        "这些文档讲的是{titles}；其中没有{topic}，所以我无法回答。",
        "在文档{refs}中都找不到{topic}。",
    ],
}

CONFLICTING = {
    "en": [
        "The documents disagree: [{a}] says {clause_a}, but [{b}] says {clause_b}.",
        "Sources conflict here. Document [{a}] gives {va}, while document [{b}] gives {vb}; the documents alone "
        "don't settle which is right.",
        "[{a}] and [{b}] contradict each other: [{a}] gives {va}, whereas [{b}] gives {vb}.",
        "There are two different answers in the retrieved documents: {va} according to [{a}] ({ta}) and {vb} "
        "according to [{b}] ({tb}).",
        "It depends on the source: [{a}] states {clause_a}, whereas [{b}] states {clause_b}. The knowledge base is "
        "inconsistent on this point.",
        "{Ta} [{a}] says {va}, but {tb} [{b}] says {vb}. I can't tell which one is correct.",
        "The retrieved documents do not agree. According to [{a}], {clause_a}; according to [{b}], {clause_b}.",
        "Two values appear: {va} in [{a}] and {vb} in [{b}]. You may want to check which source is more reliable.",
        "Careful, the sources conflict: [{a}] ({ta}) gives {va}, and [{b}] ({tb}) gives {vb}.",
        "Document [{a}] and document [{b}] give different answers ({va} in [{a}], {vb} in [{b}]), so the knowledge "
        "base contradicts itself here.",
    ],
    "zh": [
        "文档之间存在矛盾：[{a}]说{clause_a}，而[{b}]说{clause_b}。",
        "来源不一致。文档[{a}]给出的是{va}，文档[{b}]给出的是{vb}，仅凭这些文档无法确定哪个正确。",
        "[{a}]和[{b}]互相矛盾：[{a}]说是{va}，[{b}]却说是{vb}。",
        "检索到的文档给出了两个不同的答案：[{a}]（{ta}）说是{va}，[{b}]（{tb}）说是{vb}。",
        "这取决于来源：[{a}]称{clause_a}，[{b}]则称{clause_b}。知识库在这一点上并不一致。",
        "《{ta}》[{a}]说是{va}，但《{tb}》[{b}]说是{vb}，我无法判断哪个正确。",
        "检索到的文档说法不一：据[{a}]，{clause_a}；据[{b}]，{clause_b}。",
        "出现了两种说法：[{a}]中是{va}，[{b}]中是{vb}。建议核实哪个来源更可靠。",
        "注意，来源相互冲突：[{a}]（{ta}）给出{va}，[{b}]（{tb}）给出{vb}。",
        "文档[{a}]和文档[{b}]的答案不同（[{a}]为{va}，[{b}]为{vb}），知识库在此处自相矛盾。",
    ],
}

SECOND_SOURCE_TITLES = {
    "en": ["{title} (revised edition)", "{title}: mirror copy", "{title} (older version)", "{title} (community wiki)"],
    "zh": ["{title}（修订版）", "{title}（镜像副本）", "{title}（旧版本）", "{title}（社区维基）"],
}

def join_refs(numbers: list[int], lang: str) -> str:
    refs = [f"[{n}]" for n in numbers]
    if len(refs) == 1:
        return refs[0]
    return ", ".join(refs[:-1]) + " and " + refs[-1] if lang == "en" else "、".join(refs[:-1]) + "和" + refs[-1]


def join_titles(titles: list[str], lang: str) -> str:
    if len(titles) == 1:
        return titles[0]
    return ", ".join(titles[:-1]) + " and " + titles[-1] if lang == "en" else "、".join(titles[:-1]) + "和" + titles[-1]


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def fill(template: str, **values: str) -> str:
    """Format with both {key} and {Key} (the value capitalised) available."""
    return template.format(**values, **{k[:1].upper() + k[1:]: capitalise(v) for k, v in values.items()})
