"""The scene's nodes of a class, without the collection ``vtkMRMLScene::GetNodesByClass`` returns: the
caller owns that one ("You are responsible for deleting the returned collection", vtkMRMLScene.h
v5.8.1 l. 317, main l. 318) and from Python it leaks, holding every node it lists (issue 14, item 7)."""


def nodes_of_class(scene, cls: str) -> list:
    return [scene.GetNthNodeByClass(i, cls) for i in range(scene.GetNumberOfNodesByClass(cls))]


def node_ids(scene) -> set:
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


def remove_added_since(scene, before: set) -> None:
    """Remove the nodes added since ``node_ids`` gave ``before``: a result that failed half-way leaves
    nothing behind (review finding 4). Nodes a removal takes along (display nodes) and singletons (the
    subject hierarchy, made on first use) stay."""
    added = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
    for node in [n for n in added if n.GetID() not in before and not n.GetSingletonTag()]:
        if node.GetScene() is not None:
            scene.RemoveNode(node)
