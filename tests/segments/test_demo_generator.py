from segments.demo import demo_chain_generate


def test_import():
    assert demo_chain_generate.__name__ == "demo_chain_generate"
